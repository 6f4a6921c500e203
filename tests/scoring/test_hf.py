"""The transformers backend against an independent full-sequence loss, on real models (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainbench.data import load_dataset
from brainbench.errors import BackendError, ContextLengthError
from brainbench.scoring.hf import HFScorer, embedded_model_file
from tests.conftest import save_tiny_llama
from tests.reference import reference_ppl, reference_self_certainty

pytestmark = pytest.mark.slow


def test_embedded_model_matches_full_sequence_loss(embedded_scorer: HFScorer, data_dir: Path) -> None:
    cases = load_dataset("brainbench-human", data_dir=data_dir, offline=True).cases[:3]
    texts = [text for case in cases for text in (case.original, case.altered)]
    scores = embedded_scorer.score_texts(texts)
    for text, score in zip(texts, scores):
        expected = reference_ppl(embedded_scorer.model, embedded_scorer.tokenizer, text)
        assert score.ppl == pytest.approx(expected, rel=1e-4)
        assert score.n_text_tokens == len(embedded_scorer.tokenize(text)) == score.n_tokens + 1
    assert embedded_scorer.describe()["dtype"] == "float32"
    assert embedded_scorer.describe()["n_params"] == 134_515_008


def test_batching_with_padding_changes_nothing(embedded_scorer: HFScorer) -> None:
    texts = [
        "Short text about neurons.",
        "A much longer text about the hippocampus and place cells that remap.",
        "Mid length, cortex.",
    ]
    one_by_one = [score.ppl for score in embedded_scorer.score_texts(texts)]
    embedded_scorer.batch_size = 3
    try:
        batched = [score.ppl for score in embedded_scorer.score_texts(texts)]
    finally:
        embedded_scorer.batch_size = 1
    assert batched == pytest.approx(one_by_one, rel=1e-5)


def test_gguf_file_by_path(embedded_scorer: HFScorer) -> None:
    scorer = HFScorer.load(embedded_model_file(), dtype="float32", device="cpu")
    text = "Dopamine neurons encode reward prediction errors."
    assert scorer.score_texts([text])[0].ppl == pytest.approx(embedded_scorer.score_texts([text])[0].ppl, rel=1e-6)


def test_local_folder_and_context_limit(tiny_model_dir: Path) -> None:
    scorer = HFScorer.load(tiny_model_dir, dtype="float32", device="cpu")
    assert scorer.max_length == 64
    text = "Neurons fire."
    assert scorer.score_texts([text])[0].ppl == pytest.approx(
        reference_ppl(scorer.model, scorer.tokenizer, text), rel=1e-4
    )
    with pytest.raises(ContextLengthError, match="more than .* context of 64"):
        scorer.score_texts([text, "word " * 100])


def test_non_finite_scores_are_refused(tiny_model_dir: Path) -> None:
    scorer = HFScorer.load(tiny_model_dir, dtype="float32", device="cpu")
    scorer.model.model.norm.weight.data.fill_(float("nan"))  # what an overflow leaves behind
    with pytest.raises(BackendError, match="non-finite log-probabilities in float32"):
        scorer.score_options([("Neurons fire more.", "Neurons fire less.")])[0]
    scorer.engine = "simple"
    with pytest.raises(BackendError, match="non-finite"):
        scorer.score_texts(["Neurons fire more."])


def test_lora_adapter(tiny_model_dir: Path, tmp_path: Path) -> None:
    import peft
    import transformers

    base = transformers.AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    tuned = peft.get_peft_model(base, config)
    tuned.save_pretrained(tmp_path / "adapter")
    tuned.eval()

    scorer = HFScorer.load(tiny_model_dir, adapter=tmp_path / "adapter", dtype="float32", device="cpu")
    plain = HFScorer.load(tiny_model_dir, dtype="float32", device="cpu")
    text = "Synaptic plasticity depends on NMDA receptors."
    expected = reference_ppl(tuned, scorer.tokenizer, text)
    assert scorer.score_texts([text])[0].ppl == pytest.approx(expected, rel=1e-4)
    assert plain.score_texts([text])[0].ppl != pytest.approx(expected, rel=1e-4)
    assert scorer.describe()["adapter"] == str(tmp_path / "adapter")


def test_fast_engine_matches_simple_engine_and_full_loss(embedded_scorer: HFScorer, data_dir: Path) -> None:
    assert embedded_scorer.engine == "fast"
    cases = load_dataset("brainbench-human", data_dir=data_dir, offline=True).cases[:3]
    for case in cases:
        fast = embedded_scorer.score_options([(case.original, case.altered)])[0]
        simple = embedded_scorer.score_texts([case.original, case.altered])
        for text, f, s in zip((case.original, case.altered), fast, simple):
            assert f.n_tokens == s.n_tokens and f.n_text_tokens == s.n_text_tokens
            assert f.token_logprobs == pytest.approx(s.token_logprobs, rel=1e-4, abs=1e-4)
            assert f.ppl == pytest.approx(
                reference_ppl(embedded_scorer.model, embedded_scorer.tokenizer, text), rel=1e-4
            )
            # self-certainty in the same pass, by both engines, as the full log-softmax gives it
            expected = reference_self_certainty(embedded_scorer.model, embedded_scorer.tokenizer, text)
            assert f.self_certainty == pytest.approx(expected, rel=1e-5)
            assert s.self_certainty == pytest.approx(expected, rel=1e-5)
            assert len(f.token_certainties) == f.n_tokens


def test_pairs_batched_across_cases_match_one_at_a_time(embedded_scorer: HFScorer, data_dir: Path) -> None:
    cases = load_dataset("brainbench-human", data_dir=data_dir, offline=True).cases[:5]
    pairs = [(case.original, case.altered) for case in cases]
    pairs.insert(2, ("Increased firing in cortex.", "Decreased firing in cortex."))  # nothing shared: scored whole
    pairs.append(("Same text here.", "Same text here."))
    one_at_a_time = [embedded_scorer.score_options([pair])[0] for pair in pairs]
    for batch_size in (2, 7):
        embedded_scorer.batch_size = batch_size
        try:
            batched = embedded_scorer.score_options(pairs)
        finally:
            embedded_scorer.batch_size = 1
        assert len(batched) == len(pairs)
        for alone, together in zip(one_at_a_time, batched):
            for a, b in zip(alone, together):
                assert b.n_text_tokens == a.n_text_tokens
                assert b.token_logprobs == pytest.approx(a.token_logprobs, rel=1e-4, abs=1e-5)


def test_n_options_fast_and_simple_engines_agree(embedded_scorer: HFScorer) -> None:
    """Cases with 3 and 4 versions, mixed with pairs in one call and batched: every version as if scored alone."""
    groups = [
        ("Firing rates rose after learning.", "Firing rates fell after learning.", "Firing rates held after learning."),
        ("Mice slept more.", "Mice slept less."),
        ("Spines grew by 10%.", "Spines grew by 20%.", "Spines grew by 35%.", "Spines grew by 50%."),
        ("Dopamine rose in striatum.", "Serotonin rose in striatum.", "Dopamine fell in striatum."),
    ]
    for batch_size in (1, 3):
        embedded_scorer.batch_size = batch_size
        try:
            fast = embedded_scorer.score_options(groups)
        finally:
            embedded_scorer.batch_size = 1
        embedded_scorer.engine = "simple"
        try:
            simple = embedded_scorer.score_options(groups)
        finally:
            embedded_scorer.engine = "fast"
        assert (
            [len(scores) for scores in fast] == [len(group) for group in groups] == [len(scores) for scores in simple]
        )
        for group, fast_scores, simple_scores in zip(groups, fast, simple):
            for text, f, s in zip(group, fast_scores, simple_scores):
                assert f.n_text_tokens == s.n_text_tokens
                assert f.ppl == pytest.approx(s.ppl, rel=1e-4)
                assert f.ppl == pytest.approx(
                    reference_ppl(embedded_scorer.model, embedded_scorer.tokenizer, text), rel=1e-4
                )


def test_workers_give_the_scores_of_one_thread_in_order(embedded_scorer: HFScorer, data_dir: Path) -> None:
    """Cases shared among CPU worker threads: each scored as alone, every result at its own place."""
    import torch

    from brainbench.scoring.hf import MAX_WORKERS

    cases = load_dataset("brainbench-human", data_dir=data_dir, offline=True).cases[:4]
    groups = [(case.original, case.altered) for case in cases]
    groups.insert(1, ("Spines grew by 10%.", "Spines grew by 20%.", "Spines grew by 35%."))
    groups.append(("Increased firing in cortex.", "Decreased firing in cortex."))  # nothing shared
    texts = [group[0] for group in groups]
    default, threads = embedded_scorer.workers, torch.get_num_threads()
    assert default == min(MAX_WORKERS, threads) == embedded_scorer.describe()["workers"]  # one per core torch uses
    try:
        embedded_scorer.workers = 1
        alone, alone_texts = embedded_scorer.score_options(groups), embedded_scorer.score_texts(texts)
        for workers in (2, 3):
            embedded_scorer.workers = workers
            shared, shared_texts = embedded_scorer.score_options(groups), embedded_scorer.score_texts(texts)
            assert torch.get_num_threads() == threads  # given back after the call
            assert [[s.n_text_tokens for s in scores] for scores in shared] == [
                [s.n_text_tokens for s in scores] for scores in alone
            ]
            assert [s.ppl for scores in shared for s in scores] == pytest.approx(
                [s.ppl for scores in alone for s in scores], rel=1e-6
            )
            assert [s.ppl for s in shared_texts] == pytest.approx([s.ppl for s in alone_texts], rel=1e-6)
            assert embedded_scorer.cases_per_call == 4 * workers  # 4 cases per worker and call keep all busy to the end
    finally:
        embedded_scorer.workers = default


def test_output_layer_tiles_with_a_bias(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiles smaller than the rows and the vocabulary (which they do not divide), and a head with a bias."""
    import torch

    from brainbench.scoring import hf

    scorer = HFScorer.load(tiny_model_dir, dtype="float32", device="cpu")
    vocab, hidden = scorer.model.lm_head.weight.shape
    torch.manual_seed(1)
    head = torch.nn.Linear(hidden, vocab, bias=True)
    scorer.model.lm_head = head
    scorer._head_weight = head.weight
    monkeypatch.setattr(hf, "HEAD_ROWS", 5)
    monkeypatch.setattr(hf, "HEAD_VOCAB", 1000)
    first, second = "Neurons in the cortex fire more after training.", "Neurons in the cortex fire less after training."
    for text, score in zip((first, second), scorer.score_options([(first, second)])[0]):
        assert score.ppl == pytest.approx(reference_ppl(scorer.model, scorer.tokenizer, text), rel=1e-5)
        assert score.self_certainty == pytest.approx(
            reference_self_certainty(scorer.model, scorer.tokenizer, text), rel=1e-5, abs=1e-6
        )


def test_bfloat16_keeps_the_residual_stream_and_output_layer_in_float32(
    embedded_scorer: HFScorer, data_dir: Path
) -> None:
    """bfloat16 matrix products, float32 elsewhere: per-token log-probabilities much nearer float32's than a plain
    bfloat16 model's (whose logits are rounded to 1/8 near 20); such scores are stored apart from plain ones."""
    scorer = HFScorer.load(dtype="bfloat16", device="cpu")
    assert scorer.fingerprint()["float32"] == scorer.describe()["float32"] == "residual stream, norms, output layer"
    assert "float32" not in embedded_scorer.fingerprint()
    pairs = [
        (case.original, case.altered)
        for case in load_dataset("brainbench-human", data_dir=data_dir, offline=True).cases[:2]
    ]
    error_fast = error_plain = 0.0
    for pair in pairs:
        exact = embedded_scorer.score_options([pair])[0]
        fast = scorer.score_options([pair])[0]
        plain = scorer.score_texts(pair)  # the model's own forward pass, all in bfloat16
        for e, f, p in zip(exact, fast, plain):
            assert f.n_text_tokens == e.n_text_tokens and f.ppl == pytest.approx(e.ppl, rel=5e-3)
            error_fast += sum(abs(a - b) for a, b in zip(f.token_logprobs, e.token_logprobs))
            error_plain += sum(abs(a - b) for a, b in zip(p.token_logprobs, e.token_logprobs))
    assert error_fast < 0.6 * error_plain  # measured: 2.1 to 2.5 times smaller on each text


def test_out_of_memory_halves_the_batch(embedded_scorer: HFScorer, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    pairs = [(f"Neurons in area {n} fire more.", f"Neurons in area {n} fire less.") for n in range(5)]
    expected = [embedded_scorer.score_options([pair])[0] for pair in pairs]
    real_batch = embedded_scorer._score_option_batch
    sizes = []

    def small_memory(batch):  # a device that holds at most two pairs at once
        sizes.append(len(batch))
        if len(batch) > 2:
            raise torch.OutOfMemoryError("scripted: out of memory")
        return real_batch(batch)

    monkeypatch.setattr(embedded_scorer, "_score_option_batch", small_memory)
    monkeypatch.setattr(embedded_scorer, "batch_size", 5)
    scored = embedded_scorer.score_options(pairs)
    assert sizes[:2] == [5, 2] and max(sizes[2:]) <= 2 and embedded_scorer.batch_size == 2
    assert [s.ppl for pair in scored for s in pair] == pytest.approx(
        [s.ppl for pair in expected for s in pair], rel=1e-5
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Neurons in the hippocampus fire.", "Neurons in the hippocampus fire less."),  # one is a prefix of the other
        ("Increased firing in cortex.", "Decreased firing in cortex."),  # differs at the first token
        ("Same text here.", "Same text here."),  # identical: everything shared but the last token
    ],
)
def test_fast_engine_edge_cases(embedded_scorer: HFScorer, first: str, second: str) -> None:
    fast = embedded_scorer.score_options([(first, second)])[0]
    for text, score in zip((first, second), fast):
        assert score.ppl == pytest.approx(
            reference_ppl(embedded_scorer.model, embedded_scorer.tokenizer, text), rel=1e-4
        )


def test_fast_engine_with_a_lora_adapter(tiny_model_dir: Path, tmp_path: Path) -> None:
    import peft
    import transformers

    base = transformers.AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = peft.get_peft_model(
        base, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    tuned.save_pretrained(tmp_path / "adapter")
    tuned.eval()
    scorer = HFScorer.load(tiny_model_dir, adapter=tmp_path / "adapter", dtype="float32", device="cpu")
    assert scorer.engine == "fast"
    first, second = "Synaptic plasticity depends on NMDA receptors.", "Synaptic plasticity ignores NMDA receptors."
    for text, score in zip((first, second), scorer.score_options([(first, second)])[0]):
        assert score.ppl == pytest.approx(reference_ppl(tuned, scorer.tokenizer, text), rel=1e-4)
        # a random tiny model is close to uniform (about 0.006 nats): float32 logits give it to about 1e-7
        assert score.self_certainty == pytest.approx(
            reference_self_certainty(tuned, scorer.tokenizer, text), rel=1e-5, abs=1e-6
        )


def test_compiled_decoder_gives_the_same_scores(tiny_model_dir: Path) -> None:
    plain = HFScorer.load(tiny_model_dir, dtype="float32", device="cpu")
    compiled = HFScorer.load(tiny_model_dir, dtype="float32", device="cpu", compile=True)
    assert compiled.describe()["compile"] is True
    first, second = "Neurons in the cortex fire more.", "Neurons in the cortex fire less often."
    for a, b in zip(plain.score_options([(first, second)])[0], compiled.score_options([(first, second)])[0]):
        assert b.ppl == pytest.approx(a.ppl, rel=1e-4)


@pytest.fixture(scope="session")
def bos_model_dir(tmp_path_factory: pytest.TempPathFactory, embedded_scorer: HFScorer) -> Path:
    """A small random Llama whose tokenizer adds a BOS token ``<s>`` and reads a literal ``<s>`` as that
    token, as Llama-2's and Mistral's do (the embedded tokenizer with a BOS added)."""
    import tokenizers
    import transformers

    backend = tokenizers.Tokenizer.from_str(embedded_scorer.tokenizer.backend_tokenizer.to_str())
    backend.add_special_tokens(["<s>"])
    bos_id = backend.token_to_id("<s>")
    backend.post_processor = tokenizers.processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos_id)])
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="<|im_end|>")
    return save_tiny_llama(tmp_path_factory.mktemp("bos-llama"), tokenizer, 512, bos_token_id=bos_id)


def test_the_papers_double_bos_is_kept(bos_model_dir: Path, data_dir: Path) -> None:
    """Mistral's template starts with a literal <s>; a tokenizer that adds its own BOS puts a second one
    before it, and that double BOS is what the paper scored."""
    from brainbench.scoring import resolve_template

    scorer = HFScorer.load(bos_model_dir, dtype="float32", device="cpu")
    bos = scorer.tokenizer.bos_token_id
    prompt = resolve_template(None, None, "mistralai/Mistral-7B-v0.1", data_dir=data_dir, offline=True).apply(
        "Neurons fire."
    )
    ids = scorer.tokenize(prompt)
    assert prompt.startswith("<s>[INST]") and ids[:2] == [bos, bos] and ids.count(bos) == 2
    assert scorer.tokenize("Neurons fire.")[0] == bos  # the tokenizer adds one itself
    first, _ = scorer.score_options([(prompt, prompt.replace("fire", "rest"))])[0]
    assert first.n_text_tokens == len(ids)  # every token but the first BOS is scored, the second BOS included
    assert first.ppl == pytest.approx(reference_ppl(scorer.model, scorer.tokenizer, prompt), rel=1e-4)
