"""Schema of ``train.distributed``: how the ranks of a torchrun job (``train --nproc N``) agree.

Kept apart from ``schema.py`` (which only adds the one ``TrainConfig.distributed`` field) so the
section reads on its own. docs/scaling.md describes both modes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator


class DistributedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    sync: Literal["ddp", "local_sgd"] = Field(
        "ddp",
        description="ddp: gradients all-reduced every step; local_sgd: every rank steps on its own shard and parameters are averaged every `period` steps (torch post-local SGD); only under torchrun / train --nproc",
    )
    period: PositiveInt = Field(
        8,
        description="local_sgd: optimizer steps between parameter averages (1: every step, as DDP)",
    )
    warmup_steps: Annotated[int, Field(ge=0)] = Field(
        0,
        description="local_sgd: first optimizer steps synchronized as DDP (gradients every step) before local steps begin",
    )

    @model_validator(mode="after")
    def _local_sgd_keys(self) -> DistributedConfig:
        # A resolved config lists every key with its default: only a changed value is refused.
        changed = [key for key in ("period", "warmup_steps")
                   if getattr(self, key) != type(self).model_fields[key].default]  # fmt: skip
        if self.sync == "ddp" and changed:
            raise ValueError(f"{changed[0]} applies to sync: local_sgd only (sync is ddp)")
        return self
