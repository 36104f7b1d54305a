"""A cohort member's run equals ``tuneforge.train`` of the same recipe (SPEC §6: < 1e-4 relative).

Each cohort mixes members that differ in what a cohort batches (learning rate, optimizer
hyperparameters, weight decay, L1/L2 and their mode, schedules, clipping, widths, seeds, epochs)
and every member's epoch records and summary are compared with its own module-engine run, over
100+ optimizer steps. Dropout is 0 here: with dropout the two engines draw different masks.
"""

from __future__ import annotations

import pytest
import torch
from cohort_helpers import make, same_run

import tuneforge
from tuneforge.engine.cohort.grouping import structure
from tuneforge.run.cohort import train_cohort

IRIS = ["data.source=iris", "train.batch_size=16", "train.epochs=18"]  # 6 steps/epoch: 108 steps


def check_cohort(cfgs) -> list:
    runs = train_cohort(cfgs)
    for cfg, run in zip(cfgs, runs, strict=True):
        alone = tuneforge.train(cfg)
        same_run(run, alone)
        assert run.summary["steps"] >= 100 or run.summary["status"] != "completed"
    return runs


def test_mlp_adam_family_widths_schedules_and_regularization() -> None:
    mlp = [*IRIS, "model.kind=mlp", "model.activation=relu"]
    check_cohort([
        make(*mlp, "model.hidden=[16, 8]", "train.optimizer.lr=0.01"),
        make(*mlp, "model.hidden=[8, 12]", "train.optimizer.name=adamw", "train.optimizer.lr=0.02",
             "train.optimizer.weight_decay=0.1", "train.schedule.name=cosine",
             "train.schedule.warmup_steps=10"),
        make(*mlp, "model.hidden=[12, 4]", "train.optimizer.lr=0.005", "train.optimizer.betas=[0.8, 0.99]",
             "train.regularization.l2=0.001", "train.regularization.l1=0.0005",
             "train.schedule.name=inverse_time", "train.schedule.decay=0.05"),
        make(*mlp, "model.hidden=[16, 12]", "train.optimizer.amsgrad=true", "train.optimizer.lr=0.03",
             "train.clip_grad_norm=0.5", "train.schedule.name=step", "train.schedule.step_size=3",
             "train.schedule.gamma=0.5", "train.schedule.interval=epoch", "model.init=xavier"),
        make(*mlp, "model.hidden=[4, 16]", "train.optimizer.weight_decay=0.01", "train.clip_grad_value=0.05",
             "train.schedule.name=onecycle", "train.epochs=17", "model.init=default"),
    ])  # fmt: skip


def test_sigmoid_mlp_sgd_with_masked_widths_and_proximal_l1() -> None:
    mlp = [*IRIS, "model.activation=sigmoid", "train.optimizer.name=sgd"]
    cfgs = [
        make(*mlp, "model.hidden=[10]", "train.optimizer.lr=0.5"),
        make(*mlp, "model.hidden=[3]", "train.optimizer.lr=0.2", "train.optimizer.momentum=0.9"),
        make(*mlp, "model.hidden=[6]", "train.optimizer.lr=0.1", "train.optimizer.momentum=0.8",
             "train.optimizer.nesterov=true", "train.regularization.l1=0.05",
             "train.regularization.l1_mode=proximal", "train.regularization.include_bias=true"),
        make(*mlp, "model.hidden=[8]", "train.optimizer.lr=0.3", "train.optimizer.momentum=0.5",
             "train.optimizer.dampening=0.3", "train.regularization.l2=0.01",
             "train.regularization.include_bias=true", "train.seed=5"),
    ]  # fmt: skip
    runs = check_cohort(cfgs)
    zeros = sum(int((p == 0).sum()) for p in runs[2].model.parameters())
    assert zeros > 0  # the proximal step made exact zeros, in the cohort as alone


def test_members_with_different_activations_share_one_cohort() -> None:
    """Each member keeps its own activation (sigmoid's padding masked); one leaves early. The
    last two (relu, gelu) are moved next to the first of their kind, and back out in order."""
    mlp = [*IRIS, "train.optimizer.lr=0.01"]
    cfgs = [
        make(*mlp, "model.hidden=[12, 6]", "model.activation=relu"),
        make(*mlp, "model.hidden=[5, 9]", "model.activation=sigmoid"),
        make(*mlp, "model.hidden=[12, 9]", "model.activation=gelu", "train.epochs=17"),
        make(*mlp, "model.hidden=[7, 9]", "model.activation=tanh", "train.seed=4"),
        make(*mlp, "model.hidden=[8, 3]", "model.activation=leaky_relu", "model.init=xavier"),
        make(*mlp, "model.hidden=[9, 4]", "model.activation=relu", "train.optimizer.lr=0.02"),
        make(*mlp, "model.hidden=[6, 6]", "model.activation=gelu", "train.seed=2"),
    ]
    assert len({structure(cfg) for cfg in cfgs}) == 1
    check_cohort(cfgs)


def test_activations_on_their_own_rows_equal_the_where_form() -> None:
    """Consecutive rows per activation: each function on its rows, concatenated; any other
    order: every function everywhere and torch.where. Same numbers, forward and backward."""
    from tuneforge.engine.cohort.network import MemberActivations

    names = ["relu", "gelu", "relu", "tanh", "gelu"]
    h = torch.randn(len(names), 4, 6, requires_grad=True)
    interleaved = MemberActivations(names, "cpu")
    order = [0, 2, 1, 4, 3]
    grouped = MemberActivations([names[i] for i in order], "cpu")
    assert len(interleaved.spans) == 5 and len(grouped.spans) == 3
    out = interleaved(h)
    (grad,) = torch.autograd.grad(out.square().sum(), h)
    h2 = h.detach()[order].requires_grad_()
    out2 = grouped(h2)
    (grad2,) = torch.autograd.grad(out2.square().sum(), h2)
    assert torch.equal(out2, out[order]) and torch.equal(grad2, grad[order])


@pytest.mark.parametrize("family", ["rmsprop", "adagrad"])
def test_logistic_with_per_member_seeds(family: str) -> None:
    """Different seeds: each member's batches follow its own shuffling order."""
    base = ["data.source=wine", "model.kind=logistic", "train.batch_size=16", "train.epochs=15",
            f"train.optimizer.name={family}"]  # fmt: skip
    extra = {"rmsprop": ["train.optimizer.centered=true", "train.optimizer.momentum=0.5"],
             "adagrad": ["train.optimizer.lr_decay=0.01", "train.optimizer.initial_accumulator_value=0.1"]}  # fmt: skip
    check_cohort([
        make(*base, "train.optimizer.lr=0.01", "train.seed=1"),
        make(*base, "train.optimizer.lr=0.003", "train.seed=2", *extra[family]),
        make(*base, "train.optimizer.lr=0.02", "train.seed=1", "train.regularization.l2=0.01",
             "train.optimizer.weight_decay=0.001"),
    ])  # fmt: skip


def test_linear_regression_full_batch_and_accumulation() -> None:
    full = ["data.source=diabetes", "model.kind=linear", "train.batch_size=full", "train.epochs=120",
            "train.optimizer.name=sgd"]  # fmt: skip
    check_cohort([
        make(*full, "train.optimizer.lr=0.05"),
        make(*full, "train.optimizer.lr=0.01", "train.optimizer.momentum=0.9"),
        make(*full, "train.optimizer.lr=0.1", "train.regularization.l1=0.01", "train.schedule.name=exponential",
             "train.schedule.gamma=0.99"),
        # grows ×1.03 a step from 0.03 and holds at its cap 0.09 from t = 38 on
        make(*full, "train.optimizer.lr=0.03", "train.schedule={name: exponential_growth, gamma: 1.03, max_lr: 0.09}"),
    ])  # fmt: skip
    # 264 training rows = 33 micro-batches of 8 = 11 full groups of 3, where weighting each
    # micro-batch by its rows in the group and dividing by ``accumulate`` are the same rule.
    accumulated = ["data.source=diabetes", "model.kind=linear", "train.batch_size=8", "train.accumulate=3",
                   "train.epochs=10", "train.loss=huber"]  # fmt: skip
    check_cohort([make(*accumulated, f"train.optimizer.lr={lr}") for lr in (0.01, 0.03)])


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_mlp_with_norm_layers_and_masked_widths(norm: str) -> None:
    mlp = [*IRIS, f"model.norm={norm}", "model.activation=tanh", "train.epochs=17"]
    if norm == "batch":
        # The bias before a batch norm has a true gradient of 0; Adam divides its rounding noise
        # (~1e-9, different in any two implementations) by its own size and moves the bias by
        # ~lr per step, which the running mean then carries into evaluation. SGD keeps noise
        # noise-sized, so the comparison measures the engine, not Adam's amplification.
        mlp += ["train.optimizer.name=sgd", "train.optimizer.momentum=0.9"]
    check_cohort([
        make(*mlp, "model.hidden=[12, 6]", "train.optimizer.lr=0.01"),
        make(*mlp, "model.hidden=[5, 9]", "train.optimizer.lr=0.02", "train.regularization.l2=0.001"),
        make(*mlp, "model.hidden=[12, 9]", "train.optimizer.lr=0.005", "train.schedule.name=plateau",
             "train.schedule.patience=1", "train.schedule.factor=0.5"),
    ])  # fmt: skip


def test_padded_entries_stay_zero() -> None:
    """A narrow member's padding (weights, biases, norm parameters) is exactly 0 after training."""
    from tuneforge.engine.cohort import CohortTrainer
    from tuneforge.engine.cohort.members import Member
    from tuneforge.recipe import Recipe

    cfgs = [make(*IRIS, "train.epochs=3", "model.activation=sigmoid", "model.norm=layer",
                 f"model.hidden={h}", "train.optimizer.name=adamw") for h in ("[12, 3]", "[4, 8]")]  # fmt: skip
    data = tuneforge.data.prepare(cfgs[0].data)
    trainer = CohortTrainer([Member(i, c, Recipe.build(c.train, data)) for i, c in enumerate(cfgs)],
                            data, torch.device("cpu"))  # fmt: skip
    for _ in range(3):
        trainer.train_epoch()
    state = trainer.net.padded_state(1)["theta"]
    own = trainer.net.member_state(1)
    assert int((state != 0).sum()) == sum(int((v != 0).sum()) for v in own.values())


def test_heads_kept_out_major_match_lone_runs_through_either_product(monkeypatch) -> None:
    """Heads with few outputs are kept [out, in]; large ones go through _OutMajorLinear (its own
    backward), small ones through autograd's ops. Forcing the function on tiny cohorts checks
    its gradients against lone runs too."""
    from tuneforge.engine.cohort import network

    mlp = [*IRIS, "model.kind=mlp", "model.activation=relu", "train.optimizer.name=sgd",
           "train.optimizer.lr=0.1", "train.optimizer.momentum=0.9"]  # SGD: sees a gradient's scale
    cfgs = [make(*mlp, "model.hidden=[12, 6]"), make(*mlp, "model.hidden=[10, 4]", "train.seed=3")]
    monkeypatch.setattr(network, "OUT_MAJOR_FUNCTION_ENTRIES", 0)
    check_cohort(cfgs)


def test_out_major_linear_equals_autograd_on_shared_and_per_member_inputs() -> None:
    from tuneforge.engine.cohort.network import _OutMajorLinear

    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(3, 5, 7, generator=gen, requires_grad=True)  # [K, out, in]
    bias = torch.randn(3, 5, generator=gen, requires_grad=True)
    for shape in ((4, 7), (3, 4, 7)):  # one input for all members, or one per member
        h = torch.randn(*shape, generator=gen, requires_grad=True)
        grad = torch.randn(3, 4, 5, generator=gen)
        mine = _OutMajorLinear.apply(h, weight, bias)
        reference = torch.matmul(h, weight.transpose(1, 2)) + bias.unsqueeze(1)
        torch.testing.assert_close(mine, reference)
        assert mine.is_contiguous()
        ours = torch.autograd.grad(mine, (h, weight, bias), grad)
        theirs = torch.autograd.grad(reference, (h, weight, bias), grad)
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b)


def test_members_with_other_loss_forms_match_their_lone_runs() -> None:
    """½·MSE and the summed loss are micro-batch weights: members with either share a cohort,
    also across batch sizes and accumulation (the last group of an epoch is short)."""
    base = ["data.source=diabetes", "model.kind=linear", "train.epochs=12", "train.optimizer.name=sgd"]
    cfgs = [
        make(*base, "train.batch_size=16", "train.accumulate=2", "train.optimizer.lr=0.02"),
        make(*base, "train.batch_size=16", "train.accumulate=2", "train.optimizer.lr=0.04",
             "train.loss_scale=0.5"),
        make(*base, "train.batch_size=32", "train.optimizer.lr=0.001", "train.loss_reduction=sum",
             "train.regularization.l2=0.5"),
        make(*base, "train.batch_size=16", "train.optimizer.lr=0.0005", "train.loss_reduction=sum",
             "train.loss_scale=0.5", "train.optimizer.momentum=0.9"),
    ]  # fmt: skip
    assert len({structure(c) for c in cfgs}) == 1
    runs = check_cohort(cfgs)
    assert runs[0].history[-1]["train/loss"] != runs[2].history[-1]["train/loss"]
