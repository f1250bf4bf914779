"""The Unit4 ERP connector: resources and approver roles mapped to ``no.bott.hub.unit4`` records."""
