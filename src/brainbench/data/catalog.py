"""The published files brainbench knows by name: test-case sets and the human study's data."""

from __future__ import annotations

from dataclasses import dataclass

_TESTCASES_REPO = "https://raw.githubusercontent.com/braingpt-lovelab/brainbench_testcases/main"
_PARTICIPANTS_REPO = "https://raw.githubusercontent.com/braingpt-lovelab/brainbench_participant_data/main"
_EXPERIMENTS_REPO = "https://raw.githubusercontent.com/braingpt-lovelab/brainbench_experiments/main"
_RESULTS_REPO = "https://raw.githubusercontent.com/braingpt-lovelab/brainbench_results/main"


@dataclass(frozen=True, slots=True)
class ReferenceFile:
    """A published file, fetched from a mirror, the cache or its public copies and checked by sha256."""

    name: str
    filename: str
    sha256: str
    urls: tuple[str, ...]  # public copies, tried in order; the sha256 decides
    description: str


@dataclass(frozen=True, slots=True)
class DatasetSpec(ReferenceFile):
    """A published set of test cases."""

    source: str  # the TestCase.source of its cases
    n_items: int


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="brainbench-human",
            filename="BrainBench_Human_v0.1.csv",
            sha256="a887d3e7242f8047fa53e44beaef121a46c781347fb126355a49f8b1228cc4c1",
            urls=(f"{_TESTCASES_REPO}/BrainBench_Human_v0.1.csv",),
            description="200 test cases altered by neuroscience experts (Luo et al. 2024)",
            source="human",
            n_items=200,
        ),
        DatasetSpec(
            name="brainbench-gpt4",
            filename="BrainBench_GPT-4_v0.1.csv",
            sha256="ce64b4107fde3b66716cf4e7a34b5c9cfc1972f546aaa597573433fae80b6d81",
            urls=(f"{_TESTCASES_REPO}/BrainBench_GPT-4_v0.1.csv",),
            description="100 test cases altered by GPT-4 (Luo et al. 2024)",
            source="gpt4",
            n_items=100,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class GradedSpec:
    """A set of graded test cases built at load time from a recipe shipped with brainbench (which number of which
    item of ``base`` becomes the slot, the grid of values) and the local copy of ``base``: no abstract text is
    shipped."""

    name: str
    version: str
    recipe: str  # file name in brainbench/data/graded/
    base: str  # the dataset (in DATASETS) whose abstracts the cases are made from
    description: str
    n_items: int


GRADED_DATASETS: dict[str, GradedSpec] = {
    spec.name: spec
    for spec in (
        GradedSpec(
            name="brainbench-graded",
            version="1",
            recipe="brainbench-graded-v1.recipe.jsonl",
            base="brainbench-human",
            description="27 graded cases: a number stated as a result in 23 of brainbench-human's abstracts, with a "
            "grid of 5-6 values",
            n_items=27,
        ),
    )
}

REFERENCE_FILES: dict[str, ReferenceFile] = {
    spec.name: spec
    for spec in (
        ReferenceFile(
            name="participants",
            filename="participant_data.csv",
            sha256="d032da7e1405c5a67d6169ed552fb999c7af0e6c980381c436465b14a8574714",
            urls=(f"{_PARTICIPANTS_REPO}/participant_data.csv",),
            description="1514 trials of 171 human experts (Luo et al. 2024)",
        ),
        ReferenceFile(
            name="abstract-ids",
            filename="abstract_id_doi.csv",
            sha256="1936fa07ad24aedfda5716137230616cee3e7734a9511b174a2b073e21790b07",
            urls=(f"{_PARTICIPANTS_REPO}/abstract_id_doi.csv",),
            description="DOI;abstract_id;abstract: the study's abstract numbering",
        ),
        ReferenceFile(
            name="gettysburg",
            filename="gettysburg_address.json",
            sha256="bdfae9b23484cee536a6c411f82270a63374e3e564ffbdb304e8cd219aa237cd",
            urls=(f"{_EXPERIMENTS_REPO}/data/gettysburg_address.json", f"{_RESULTS_REPO}/data/gettysburg_address.json"),
            description="the Gettysburg Address: a text every model has memorised (the memorisation positive control)",
        ),
        ReferenceFile(
            name="publication-dates",
            filename="publication_dates_human_abstracts.npy",
            sha256="c2a4e3a5e0426c7afefbe5410d2ab8e677b211299ba14362877b19fa26d104b9",
            urls=(
                f"{_RESULTS_REPO}/data/publication_dates_human_abstracts.npy",
                f"{_EXPERIMENTS_REPO}/data/publication_dates_human_abstracts.npy",
            ),
            description="publication dates of the 200 human-made items, in CSV order (Fig S8)",
        ),
    )
}


# The paper's prompt template of every model it scored, as the authors' experiment code reads it:
# prompt_templates/<Hugging Face id with "/" written "--">.txt (fine-tunes and adapters by their own names).
PROMPT_TEMPLATES: dict[str, str] = {  # name -> sha256
    "TinyLlama--TinyLlama-1.1B-Chat-v1.0": "90414529e93c6927c0bae97b524be521e7e9d718a314fde1362fa13e7ccd72cf",
    "TinyLlama--TinyLlama_v1.1": "90414529e93c6927c0bae97b524be521e7e9d718a314fde1362fa13e7ccd72cf",
    "facebook--galactica-120b": "c7202444655d64f8a374828e212e80944035618817f65798014d34acbd715e18",
    "facebook--galactica-30b": "c7202444655d64f8a374828e212e80944035618817f65798014d34acbd715e18",
    "facebook--galactica-6.7b": "c7202444655d64f8a374828e212e80944035618817f65798014d34acbd715e18",
    "finetune_falcon_instruct_7b": "64150c87334e58e94257b1338594d1b7da005f67e85f0a7f26e5950e2d6de8a6",
    "finetune_gpt2": "c7202444655d64f8a374828e212e80944035618817f65798014d34acbd715e18",
    "finetune_llama2_chat_7b": "10785d58809aa762e0b4e31882b8483a8cfd49e457934082f9e2f65a52783267",
    "finetune_llama2_chat_7b_Attention": "10785d58809aa762e0b4e31882b8483a8cfd49e457934082f9e2f65a52783267",
    "finetune_llama2_chat_7b_FFNet": "10785d58809aa762e0b4e31882b8483a8cfd49e457934082f9e2f65a52783267",
    "finetune_mistral_instruct_7b_v01": "ace5a7b67a8e0889a544206fbf1f5647390b68824f4cc109b8f00ee6f11ac9f7",
    "finetune_mistral_instruct_7b_v01_Attention": "ace5a7b67a8e0889a544206fbf1f5647390b68824f4cc109b8f00ee6f11ac9f7",
    "finetune_mistral_instruct_7b_v01_FFNet": "ace5a7b67a8e0889a544206fbf1f5647390b68824f4cc109b8f00ee6f11ac9f7",
    "full_finetune_mistral_7b_v01": "ace5a7b67a8e0889a544206fbf1f5647390b68824f4cc109b8f00ee6f11ac9f7",
    "gpt2-large_scratch_neuro_tokenizer": "c7202444655d64f8a374828e212e80944035618817f65798014d34acbd715e18",
    "gpt2-medium_scratch_neuro_tokenizer": "c7202444655d64f8a374828e212e80944035618817f65798014d34acbd715e18",
    "gpt2": "c7202444655d64f8a374828e212e80944035618817f65798014d34acbd715e18",
    "gpt2_init": "c7202444655d64f8a374828e212e80944035618817f65798014d34acbd715e18",
    "gpt2_scratch": "c7202444655d64f8a374828e212e80944035618817f65798014d34acbd715e18",
    "gpt2_scratch_neuro_tokenizer": "c7202444655d64f8a374828e212e80944035618817f65798014d34acbd715e18",
    "lora_r16_a32_finetune_mistral_7b_v01": "ace5a7b67a8e0889a544206fbf1f5647390b68824f4cc109b8f00ee6f11ac9f7",
    "lora_r256_a512_finetune_mistral_7b_v01": "ace5a7b67a8e0889a544206fbf1f5647390b68824f4cc109b8f00ee6f11ac9f7",
    "lora_r256_a512_finetune_phi3_mini_4k_instruct": "6b7f52a0632bb23fc403bc418ce19eaf0223a58301a625e23e5823eb85a40fdd",
    "lora_r32_a64_finetune_mistral_7b_v01": "ace5a7b67a8e0889a544206fbf1f5647390b68824f4cc109b8f00ee6f11ac9f7",
    "meta-llama--Llama-2-13b-chat-hf": "10785d58809aa762e0b4e31882b8483a8cfd49e457934082f9e2f65a52783267",
    "meta-llama--Llama-2-13b-hf": "10785d58809aa762e0b4e31882b8483a8cfd49e457934082f9e2f65a52783267",
    "meta-llama--Llama-2-70b-chat-hf": "10785d58809aa762e0b4e31882b8483a8cfd49e457934082f9e2f65a52783267",
    "meta-llama--Llama-2-70b-hf": "10785d58809aa762e0b4e31882b8483a8cfd49e457934082f9e2f65a52783267",
    "meta-llama--Llama-2-7b-chat-hf": "10785d58809aa762e0b4e31882b8483a8cfd49e457934082f9e2f65a52783267",
    "meta-llama--Llama-2-7b-hf": "10785d58809aa762e0b4e31882b8483a8cfd49e457934082f9e2f65a52783267",
    "microsoft--Phi-3-mini-4k-instruct": "6b7f52a0632bb23fc403bc418ce19eaf0223a58301a625e23e5823eb85a40fdd",
    "mistralai--Mistral-7B-Instruct-v0.1": "ace5a7b67a8e0889a544206fbf1f5647390b68824f4cc109b8f00ee6f11ac9f7",
    "mistralai--Mistral-7B-v0.1": "ace5a7b67a8e0889a544206fbf1f5647390b68824f4cc109b8f00ee6f11ac9f7",
    "tiiuae--falcon-180B-chat": "64150c87334e58e94257b1338594d1b7da005f67e85f0a7f26e5950e2d6de8a6",
    "tiiuae--falcon-180B": "64150c87334e58e94257b1338594d1b7da005f67e85f0a7f26e5950e2d6de8a6",
    "tiiuae--falcon-40b-instruct": "64150c87334e58e94257b1338594d1b7da005f67e85f0a7f26e5950e2d6de8a6",
    "tiiuae--falcon-40b": "64150c87334e58e94257b1338594d1b7da005f67e85f0a7f26e5950e2d6de8a6",
    "tiiuae--falcon-7b-instruct": "64150c87334e58e94257b1338594d1b7da005f67e85f0a7f26e5950e2d6de8a6",
    "tiiuae--falcon-7b": "64150c87334e58e94257b1338594d1b7da005f67e85f0a7f26e5950e2d6de8a6",
    "tiiuae--falcon-rw-7b": "64150c87334e58e94257b1338594d1b7da005f67e85f0a7f26e5950e2d6de8a6",
}


def prompt_template_file(name: str) -> ReferenceFile:
    """The catalogue entry of one of the paper's template files (mirror: ``prompt_templates/<name>.txt``)."""
    return ReferenceFile(
        name=f"template {name}",
        filename=f"prompt_templates/{name}.txt",
        sha256=PROMPT_TEMPLATES[name],
        urls=(f"{_EXPERIMENTS_REPO}/prompt_templates/{name}.txt",),
        description=f"the paper's prompt template for {name}",
    )
