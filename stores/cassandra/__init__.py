"""The Cassandra backend of :class:`stores.timeline.TimelineStore`: the scale-out path for the
per-user time series, chosen by ``Settings.cassandra_hosts``."""

from stores.cassandra.timeline import CassandraTimelineStore, open_cassandra_timeline

__all__ = ["CassandraTimelineStore", "open_cassandra_timeline"]
