"""Searching with another embedder than the index was built with fails clearly (409) until
`almanac reindex`; the reindex swaps the vectors in place."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np

from backend.api.app import create_app
from backend.bootstrap import bootstrap
from tests.conftest import FixedClock, make_settings


class HashingEmbedder:
    """A different, deterministic embedder (bag of hashed words, 64 dims)."""

    model = "hashing-64"
    dimension = 64

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.embed_query(text) for text in texts])

    def embed_query(self, text: str) -> np.ndarray:
        vector = np.zeros(64, dtype=np.float32)
        for word in text.lower().split():
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
        return vector / (np.linalg.norm(vector) or 1.0)


async def test_mismatch_is_a_409_naming_reindex_and_reindex_fixes_it(data_dir: Path) -> None:
    container = bootstrap(make_settings(data_dir), embedder=HashingEmbedder(), clock=FixedClock())
    try:
        transport = httpx.ASGITransport(app=create_app(container=container))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/api/search", params={"q": "password rotation"})
            assert response.status_code == 409
            body = response.json()
            assert body["code"] == "embedding_model_mismatch"
            assert "almanac reindex" in body["detail"] and "all-MiniLM-L6-v2" in body["detail"]
            health = (await client.get("/health")).json()
            assert health["status"] == "degraded" and health["problems"]

            upload = await client.post(
                "/api/documents", files={"file": ("n.md", b"# N\n\nText.\n")}
            )
            assert upload.status_code == 409

            count = await container.knowledge.reindex.execute()
            assert count == container.knowledge.knowledge_stats.run().chunks
            response = await client.get("/api/search", params={"q": "password rotation"})
            assert response.status_code == 200 and response.json()["hits"]
            assert (await client.get("/health")).json()["knowledge_base"]["embedding_model"] == (
                "hashing-64"
            )
    finally:
        container.close()
