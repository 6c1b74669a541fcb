"""patlink.bench"""
