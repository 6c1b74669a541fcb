"""patlink.losses"""
