"""Model prices for the cost of an evaluation run: the `Pricing` port on genai-prices.

genai-prices ships its price data inside the package; nothing is downloaded (its optional
`UpdatePrices` auto-update is never started). A model identifier is PydanticAI's
`provider:model` (`openai:gpt-4.1-mini`); the offline extractive model runs locally and costs
0.0; a model genai-prices does not know has no price (None), so a run reports its cost as
unknown rather than as free.
"""

from __future__ import annotations

from collections.abc import Collection

from genai_prices import Usage, calc_price

OFFLINE_MODEL = "offline-extractive"
#: PydanticAI provider names that genai-prices calls otherwise.
_PROVIDER_IDS = {"google-gla": "google", "google-vertex": "google"}


class GenaiPricesPricing:
    """Implements `eval_domain.Pricing` with genai-prices' bundled data; `free_models` (the
    local ones) cost 0.0."""

    def __init__(self, free_models: Collection[str] = (OFFLINE_MODEL,)) -> None:
        self._free = frozenset(free_models)

    def cost_usd(
        self, model_identifier: str, input_tokens: int, output_tokens: int
    ) -> float | None:
        if model_identifier in self._free:
            return 0.0
        provider, sep, model = model_identifier.partition(":")
        if not sep:
            provider, model = "", model_identifier
        try:
            price = calc_price(
                Usage(input_tokens=input_tokens, output_tokens=output_tokens),
                model_ref=model,
                provider_id=_PROVIDER_IDS.get(provider, provider) or None,
            )
        except LookupError:
            return None
        return float(price.total_price)
