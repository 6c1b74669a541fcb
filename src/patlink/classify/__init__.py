"""patlink.classify"""
