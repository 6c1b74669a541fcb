"""patlink.training"""
