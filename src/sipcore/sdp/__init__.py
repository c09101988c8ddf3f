"""SDPSession, SDPMedia, SDPConnection, SDPAttribute: issue #4 (not yet built)."""
