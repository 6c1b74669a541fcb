"""patlink.retrieval"""
