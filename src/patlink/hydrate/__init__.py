"""patlink.hydrate"""
