"""patlink.models"""
