"""The Qdrant backends of :class:`stores.vectors.VectorStore`: embedded in-process (qdrant-edge,
the default) and a Qdrant server (qdrant-client), chosen by ``Settings.qdrant_url``."""

from stores.qdrant.edge import EdgeVectorStore, open_edge_vectors
from stores.qdrant.server import ClientVectorStore, open_server_vectors

__all__ = ["ClientVectorStore", "EdgeVectorStore", "open_edge_vectors", "open_server_vectors"]
