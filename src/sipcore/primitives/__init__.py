"""SIP primitives: one module each.  ``message`` is here; Registration, Publication,
Subscription and Invitation follow (issues #3 and #4)."""
