"""The Cerebrum connector's own parts: UiO's IAM, mapped to ``no.bott.hub.iam`` records.

``mapping`` maps the REST API's person and account bodies, ``notifications``
reads Cerebrum's SCIM-style events, and ``fake_server`` is a faithful local fake
of the REST API that also produces those events.
"""
