"""Logits only at label positions: the loss and its gradients equal the model's own causal-LM loss."""
import pytest


def _batches(tiny_tokenizer, train_file):
    from tiaocan.data import load_dataset, render_dataset
    from tiaocan.training.data import make_collator

    ds = render_dataset(load_dataset(str(train_file)).select(range(4)), tiny_tokenizer, 128)
    feats = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in ds]
    return make_collator(tiny_tokenizer, False)(feats), make_collator(tiny_tokenizer, True)(feats)


@pytest.mark.parametrize("packed", [False, True])
def test_label_only_loss_and_grads_equal_the_models_loss(base_cfg, tiny_tokenizer, train_file, packed):
    import torch

    from tiaocan.config import build_config
    from tiaocan.training.loss import label_only_loss, supports_label_only_logits
    from tiaocan.training.run import _load_model

    batch = _batches(tiny_tokenizer, train_file)[packed]
    _, model = _load_model(build_config(dict(base_cfg, lora_rank=4)))
    assert supports_label_only_logits(model)
    model.train()
    n_items = int((batch["labels"][..., 1:] != -100).sum())
    assert 0 < n_items < batch["input_ids"].numel() - 1  # prompts are masked, so logits are skipped somewhere

    def grads(loss):
        model.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in model.parameters() if p.requires_grad]

    torch.manual_seed(0)
    ref = model(**batch, num_items_in_batch=torch.tensor(n_items * 2)).loss  # as under 2-step accumulation
    g_ref = grads(ref)
    torch.manual_seed(0)
    ours = label_only_loss(model, batch, torch.tensor(n_items * 2))
    g_ours = grads(ours)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)
    for a, b in zip(g_ref, g_ours):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    # without num_items_in_batch it is the mean over this batch's label tokens, like the model's default
    assert label_only_loss(model, batch).item() == pytest.approx(model(**batch).loss.item(), rel=1e-5)


def test_no_label_tokens_gives_none(base_cfg, tiny_tokenizer, train_file):
    from tiaocan.config import build_config
    from tiaocan.training.loss import label_only_loss
    from tiaocan.training.run import _load_model

    batch = dict(_batches(tiny_tokenizer, train_file)[0])
    batch["labels"] = batch["labels"].clone().fill_(-100)
    _, model = _load_model(build_config(base_cfg))
    assert label_only_loss(model, batch) is None


@pytest.mark.parametrize("packed", [False, True])
def test_cpu_label_positions_give_the_same_loss_grads_and_token_count(base_cfg, tiny_tokenizer, train_file, packed):
    """LabelPositions (the Trainer's collator): the positions / count worked out on the CPU give exactly the loss and
    gradients of the device-side path, and the token count transformers would take from the device batch."""
    import torch

    from tiaocan.config import build_config
    from tiaocan.data import load_dataset, render_dataset
    from tiaocan.training.data import make_collator
    from tiaocan.training.loss import COUNT, EXTRA_KEYS, POSITIONS, TOKENS, LabelPositions, label_only_loss
    from tiaocan.training.run import _load_model

    ds = render_dataset(load_dataset(str(train_file)).select(range(4)), tiny_tokenizer, 128)
    feats = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in ds]
    plain = make_collator(tiny_tokenizer, packed)([dict(f) for f in feats])
    ours = LabelPositions(make_collator(tiny_tokenizer, packed), count_all=packed)([dict(f) for f in feats])
    assert (POSITIONS in ours) == packed  # integer positions for a one-row batch, the count for a padded one
    assert ours[COUNT] == int((plain["labels"][..., 1:] != -100).sum())
    assert ours[TOKENS] == (plain["input_ids"].numel() if packed else int(plain["attention_mask"].sum()))
    _, model = _load_model(build_config(dict(base_cfg, lora_rank=4)))
    model.train()

    def loss_and_grads(batch):
        model.zero_grad()
        torch.manual_seed(0)
        loss = label_only_loss(model, batch, torch.tensor(ours[COUNT] * 2))
        loss.backward()
        return loss.item(), [p.grad.clone() for p in model.parameters() if p.requires_grad]

    ref_loss, ref_grads = loss_and_grads(plain)
    loss, grads = loss_and_grads(ours)
    assert loss == pytest.approx(ref_loss, rel=1e-6)
    for a, b in zip(ref_grads, grads):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)
    assert label_only_loss(model, ours).item() == pytest.approx(label_only_loss(model, plain).item(), rel=1e-6)
    # nothing to predict: None from the CPU count too
    for f in feats:
        f["labels"] = [-100] * len(f["labels"])
    empty = LabelPositions(make_collator(tiny_tokenizer, packed), count_all=packed)(feats)
    assert empty[COUNT] == 0 and label_only_loss(model, empty) is None
    assert all(k.startswith("tiaocan_") for k in EXTRA_KEYS)
