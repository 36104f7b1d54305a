"""Commented starter configs for ``tuneforge init`` (YAML files shipped in the package)."""

from __future__ import annotations

from importlib import resources

from tuneforge.errors import ConfigError

STARTERS = {
    "mlp": "MLP classifier on digits (the built-in default recipe)",
    "linear": "linear regression on y = 3x + noise by full-batch gradient descent",
    "logistic": "L2 logistic regression on breast_cancer",
    "cnn": "small CNN on digits as 8x8 images",
    "rnn": "LSTM forecasting a noisy sine wave (regression)",
    "transformer": "transformer encoder on digits as sequences, warmup + cosine",
    "finetune": "fine-tune a finished run (model.kind: pretrained, freezing, per-group rates)",
    "custom": "your own nn.Module and data function (writes nets.py beside it too)",
}
#: Files a starter needs beside the recipe: written into the recipe's folder.
COMPANIONS = {"custom": ["nets.py"]}


def starter_text(name: str) -> str:
    if name not in STARTERS:
        raise ConfigError(f"--example: unknown starter {name!r}; expected one of {list(STARTERS)}")
    return resources.files("tuneforge.config").joinpath("starters", f"{name}.yaml").read_text()


def companion_files(name: str) -> dict[str, str]:
    """``{file name: text}`` written beside the starter ``name`` (its user code)."""
    folder = resources.files("tuneforge.config").joinpath("starters")
    return {file: folder.joinpath(file).read_text() for file in COMPANIONS.get(name, [])}
