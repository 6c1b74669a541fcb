"""patlink.evaluation"""
