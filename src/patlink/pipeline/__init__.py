"""patlink.pipeline"""
