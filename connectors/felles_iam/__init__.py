"""The Felles IAM connector's own parts: UiB's and UiT's IAM, mapped to ``no.bott.hub.iam`` records.

``mapping`` maps a SCIM User, ``notifications`` reads the SCIM change
notifications, list pages and the polling cursor, and ``fake_server`` is a
faithful local fake of the SCIM API that also produces the notifications.
"""
