"""Correlation: deciding which person each source record is about.

- :mod:`~hub.correlation.identifiers`: identifier kinds, exclusivity, person keys;
- :mod:`~hub.correlation.extract`: the identifiers each kind of source record carries;
- :mod:`~hub.correlation.resolve`: who is who, as a pure function of a set of records;
- :mod:`~hub.correlation.index`: the same, kept up to date one record at a time;
- :mod:`~hub.correlation.stage`: records in, person events out (what the agent runs);
- :mod:`~hub.correlation.partition`: the partition (and so the worker) of each institution.
"""

from hub.correlation.identifiers import Identifier, Kind, person_key
from hub.correlation.resolve import LinkStatus, RecordIdentity, resolve
from hub.correlation.stage import CorrelationStage, Outgoing

__all__ = [
    "CorrelationStage",
    "Identifier",
    "Kind",
    "LinkStatus",
    "Outgoing",
    "RecordIdentity",
    "person_key",
    "resolve",
]
