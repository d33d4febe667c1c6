"""ModelSpec: one network (Dense, or conv blocks + Dense head), with a stable readable name."""

from __future__ import annotations

from pydantic import model_validator

from pipeline.specs.choices import Arch, Dropout, Padding, Pooling, PositiveInt, Widths
from pipeline.specs.factors import CNN_ONLY
from pipeline.validation import Strict

# What a CNN spec that leaves them out gets: the textbooks' 3x3 kernels, max pooling, valid.
CNN_DEFAULTS = {"kernel_size": 3, "pooling": "max", "padding": "valid"}


class ModelSpec(Strict):
    """One network. `dense`: Flatten + hidden Dense layers. `cnn`: conv blocks + Dense head.

    A pooling layer (2x2, stride 2) follows every conv block but the last, as in the textbook
    seeds; `dense_units` are the hidden Dense layers before the 10-way softmax.
    """

    arch: Arch
    filters: Widths = ()
    kernel_size: PositiveInt | None = None
    pooling: Pooling | None = None
    padding: Padding | None = None
    dense_units: Widths = ()
    dropout: Dropout = 0.0

    @model_validator(mode="before")
    @classmethod
    def _cnn_defaults(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("arch") == "cnn":
            data = {**CNN_DEFAULTS, **{k: v for k, v in data.items() if v is not None}}
        return data

    @model_validator(mode="after")
    def _arch_fields(self) -> ModelSpec:
        if self.arch == "cnn" and not self.filters:
            raise ValueError("a cnn needs at least one conv block in `filters`")
        if self.arch == "dense":
            given = [name for name in CNN_ONLY if getattr(self, name) not in (None, ())]
            if given:
                raise ValueError(f"a dense model takes no cnn settings, got {given}")
        return self

    def canonical(self) -> dict:
        """The fields that define the network, as plain JSON-able values."""
        data = self.model_dump(mode="json")
        if self.arch == "dense":
            for name in CNN_ONLY:
                data.pop(name)
        return data

    def describe(self) -> str:
        """A short readable name, e.g. `cnn f32-64-64 k3 max valid h64`."""
        hidden = "h" + "-".join(map(str, self.dense_units)) if self.dense_units else "h-"
        parts = [self.arch]
        if self.arch == "cnn":
            filters = "-".join(map(str, self.filters))
            parts += [f"f{filters}", f"k{self.kernel_size}", str(self.pooling), str(self.padding)]
        parts.append(hidden)
        if self.dropout:
            parts.append(f"drop{self.dropout:g}")
        return " ".join(parts)
