"""The study's pages (Jinja2, on brainbench.web's base page): plain HTML forms that work with a keyboard,
a screen reader and on a phone; and the default consent text, which says what the investigator fills in.

On a wide screen a trial shows the two abstracts side by side, as in the paper. On a phone, where the second
would start screens below the first, it shows the abstract once, sentence by sentence, with each sentence
in which the versions differ given as an A/B pair (the differing words marked the same way in both, so
nothing says which is real), and both full versions a tap away. Which layout a participant saw is recorded
with the answer (``layout``)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from brainbench.data.conditions import split_sentences
from brainbench.data.files import decode_utf8
from brainbench.data.task import CHOOSE, QUESTION  # one task for people and models (the choice protocol)
from brainbench.errors import InputError

DEFAULT_CONSENT = """\
## Information and consent

**Study:** [Fill in: the study's title and purpose]

**Investigator:** [Fill in: the investigator's name and institution]

**Contact:** [Fill in: an e-mail address for questions, and to withdraw your answers]

**Duration:** about [Fill in: how many] minutes.

**Ethics approval:** [Fill in: the approving ethics board and the approval number]

Taking part is voluntary. Your answers are stored without your name, together with the profile you
give (age, country, current position, years of experience, gender identity). You can stop at any
time; closing the page and coming back later continues where you left off.
[Fill in: how the answers will be used, shared and kept, and for how long]
"""
FILL_IN = "[Fill in:"  # what marks a part of the consent text still to be written
_WORDS = re.compile(r"\s+|[^\s]+")


def load_consent(path: Path) -> str:
    """The investigator's consent text (a Markdown file, UTF-8)."""
    try:
        text = decode_utf8(Path(path).read_bytes(), str(path))
    except OSError as error:
        raise InputError(path, None, f"cannot read the consent text: {error.strerror or error}") from None
    if not text.strip():
        raise InputError(
            path,
            None,
            "the consent text is empty: write the study's duration, investigator, contact and ethics approval",
        )
    return text


def render_consent(markdown: str) -> Markup:
    """The consent text (Markdown) as HTML; raw HTML in it is shown as text, never run."""
    return Markup(MarkdownIt("commonmark", {"html": False}).render(markdown))


def _marked(words: list[str], spans: list[tuple[int, int]]) -> Markup:
    """``words`` joined, the runs of ``spans`` (start, end) in <mark>, all of it escaped."""
    inside = {index for start, end in spans for index in range(start, end) if words[index].strip()}
    pieces = []
    for index, word in enumerate(words):
        pieces.append(Markup("<mark>{}</mark>").format(word) if index in inside else escape(word))
    return Markup("").join(pieces)


def compare_versions(first: str, second: str) -> list[dict[str, Markup]]:
    """The two versions sentence by sentence: ``{"same": text}`` for a run of sentences both share, and
    ``{"a": ..., "b": ...}`` for the sentences that differ, their differing words in <mark> (escaped HTML)."""
    a_sentences, b_sentences = split_sentences(first), split_sentences(second)
    parts: list[dict[str, Markup]] = []
    matcher = difflib.SequenceMatcher(None, a_sentences, b_sentences, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append({"same": escape(" ".join(a_sentences[i1:i2]))})
        elif i2 - i1 == j2 - j1:  # as many sentences each side: pair them one by one
            parts += [_pair(a, b) for a, b in zip(a_sentences[i1:i2], b_sentences[j1:j2], strict=True)]
        else:
            parts.append(_pair(" ".join(a_sentences[i1:i2]), " ".join(b_sentences[j1:j2])))
    return parts


def _pair(first: str, second: str) -> dict[str, Markup]:
    a_words, b_words = _WORDS.findall(first), _WORDS.findall(second)
    words = difflib.SequenceMatcher(None, a_words, b_words, autojunk=False).get_opcodes()
    return {
        "a": _marked(a_words, [(k1, k2) for kind, k1, k2, _, _ in words if kind != "equal"]),
        "b": _marked(b_words, [(l1, l2) for kind, _, _, l1, l2 in words if kind != "equal"]),
    }


_PROBLEM = """{% macro problem(field) %}{% if problems.get(field) %}<p class="problem" id="{{ field }}-problem">{{ problems[field] }}</p>{% endif %}{% endmacro %}
{% macro invalid(field) %}{% if problems.get(field) %} aria-invalid="true" aria-describedby="{{ field }}-problem"{% endif %}{% endmacro %}
{% if problems %}<div class="card error" role="alert"><p>Please fix:</p><ul>{% for text in problems.values() %}<li>{{ text }}</li>{% endfor %}</ul></div>{% endif %}"""

TEMPLATES = {
    "consent.html": """{% extends "base.html" %}{% block heading %}Consent{% endblock %}{% block body %}
<h1>{{ title }}</h1>
<div class="card">
<p>You will read {{ trials }} pairs of neuroscience abstracts. In each pair one abstract is as published and
the other has its results changed. Choose the one you think is real, then say how confident you are and how
much expertise you have on its topic.</p>
</div>
<div class="card">{{ consent }}</div>
<form method="post" action="/consent" class="card">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <label class="choice"><input type="checkbox" name="agree" value="yes" required> I have read the above and agree to take part.</label>
  <button type="submit">Start</button>
</form>
{% endblock %}""",
    "profile.html": """{% extends "base.html" %}{% block heading %}About you{% endblock %}{% block body %}
<h1>About you</h1>"""
    + _PROBLEM
    + """
<form method="post" action="/profile" class="card">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <div class="field"><label for="age">Age</label>{{ problem("age") }}
    <input id="age" name="age" type="number" min="18" max="100" required value="{{ values.get('age', '') }}"{{ invalid("age") }}></div>
  <div class="field"><label for="country">Country</label>{{ problem("country") }}
    <input id="country" name="country" type="text" maxlength="100" required autocomplete="country-name" value="{{ values.get('country', '') }}"{{ invalid("country") }}></div>
  <div class="field"><label for="position">Current position</label>{{ problem("position") }}
    <select id="position" name="position" required{{ invalid("position") }}><option value="">Choose…</option>
    {% for option in positions %}<option value="{{ option }}"{% if values.get('position') == option %} selected{% endif %}>{{ "Other" if option == "__other" else option }}</option>{% endfor %}</select></div>
  <div class="field"><label for="experience">Years of research experience in neuroscience</label>{{ problem("experience") }}
    <input id="experience" name="experience" type="number" min="0" max="70" required value="{{ values.get('experience', '') }}"{{ invalid("experience") }}></div>
  <div class="field"><label for="sex">Gender identity</label>{{ problem("sex") }}
    <select id="sex" name="sex" required{{ invalid("sex") }}><option value="">Choose…</option>
    {% for option in sexes %}<option{% if values.get('sex') == option %} selected{% endif %}>{{ option }}</option>{% endfor %}</select></div>
  <button type="submit">Continue</button>
</form>
{% endblock %}""",
    "trial.html": """{% extends "base.html" %}{% block heading %}Trial {{ trial.position + 1 }} of {{ trial.total }}{% endblock %}{% block body %}
<h1>"""
    + QUESTION
    + """</h1>
<p><label for="progress">Trial {{ trial.position + 1 }} of {{ trial.total }}</label>
<progress id="progress" max="{{ trial.total }}" value="{{ trial.position }}">{{ trial.position }} of {{ trial.total }}</progress></p>"""
    + _PROBLEM
    + """
<form method="post" action="/trial" id="trial">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <input type="hidden" name="position" value="{{ trial.position }}">
  <input type="hidden" name="item_id" value="{{ trial.item_id }}">
  <input type="hidden" name="view_id" value="{{ trial.view_id }}">
  <input type="hidden" name="confidence_touched" id="confidence_touched" value="{{ values.get('confidence_touched', '0') }}">
  <input type="hidden" name="expertise_touched" id="expertise_touched" value="{{ values.get('expertise_touched', '0') }}">
  <input type="hidden" name="blurs" id="blurs" value="{{ values.get('blurs', '0') }}">
  <input type="hidden" name="layout" id="layout" value="{{ values.get('layout', '') }}">
  <fieldset><legend>"""
    + CHOOSE
    + """</legend>{{ problem("choice") }}
  <div class="card differences" id="differences" aria-label="Where the two versions differ">
    <p><strong>The two versions differ only where shown as A and B below.</strong></p>
    {% for part in comparison %}{% if part.same is defined %}<p>{{ part.same }}</p>{% else %}
    <div class="pair"><div><span class="label">A</span>{{ part.a }}</div><div><span class="label">B</span>{{ part.b }}</div></div>{% endif %}{% endfor %}
  </div>
  <div class="abstracts">
    {% for label in ["A", "B"] %}
    <div class="card abstract">
      <label class="choice"><input type="radio" name="choice" value="{{ label }}" required aria-describedby="text-{{ label }}"{% if values.get('choice') == label %} checked{% endif %}> Abstract {{ label }}</label>
      <details class="full" open><summary>Abstract {{ label }} in full</summary><p id="text-{{ label }}">{{ texts[loop.index0] }}</p></details>
    </div>
    {% endfor %}
  </div>
  </fieldset>
  {% for name, question, low, high in [("confidence", "How confident are you?", "not at all", "completely"),
                                       ("expertise", "How much expertise do you have on this topic?", "none", "expert")] %}
  {% set touched = values.get(name ~ "_touched") == "1" %}
  {% set value = values.get(name, "50") %}
  <fieldset><legend><label for="{{ name }}">{{ question }}</label></legend>{{ problem(name) }}
    <p>Your answer: <output id="{{ name }}-value" for="{{ name }}">{{ value ~ " of 100" if touched else "not answered yet" }}</output></p>
    <input type="range" id="{{ name }}" name="{{ name }}" min="0" max="100" value="{{ value }}"{% if not touched %} class="untouched"{% endif %} aria-valuetext="{{ value ~ ' of 100' if touched else 'not answered yet' }}">
    <div class="scale" aria-hidden="true"><span>{{ low }}</span><span>{{ high }}</span></div></fieldset>
  {% endfor %}
  <label class="choice"><input type="checkbox" name="recognised" value="yes"{% if values.get('recognised') %} checked{% endif %}> I recognise this study</label>
  <button type="submit">{{ "Finish" if trial.position + 1 == trial.total else "Next" }}</button>
</form>
<script nonce="{{ csp_nonce }}">
  const form = document.getElementById("trial");
  for (const name of ["confidence", "expertise"]) {
    const slider = document.getElementById(name), shown = document.getElementById(name + "-value");
    slider.addEventListener("input", () => {  // mouse, touch and arrow keys alike
      document.getElementById(name + "_touched").value = "1";
      slider.classList.remove("untouched");
      shown.textContent = slider.value + " of 100";
      slider.setAttribute("aria-valuetext", slider.value + " of 100");
    });
  }
  // a narrow screen shows where the versions differ, both full texts folded away (a tap opens each)
  const narrow = window.matchMedia("(max-width: 48rem)").matches;
  form.elements.layout.value = narrow ? "differences" : "side-by-side";
  if (narrow) for (const details of document.querySelectorAll("details.full")) details.open = false;
  window.addEventListener("blur", () => { const field = document.getElementById("blurs"); field.value = String(Number(field.value) + 1); });
  // Leaving the page unanswered ends this view, so that the reaction time leaves out the time away.
  let answering = false;
  form.addEventListener("submit", () => { answering = true; });
  window.addEventListener("pagehide", () => {
    if (!answering) navigator.sendBeacon("/trial/leave", new URLSearchParams({csrf: form.elements.csrf.value, view_id: form.elements.view_id.value}));
  });
  window.addEventListener("pageshow", (event) => { if (event.persisted) location.reload(); });  // back from the cache: a new view
</script>
{% endblock %}""",
    "done.html": """{% extends "base.html" %}{% block heading %}Thank you{% endblock %}{% block body %}
<h1>Thank you</h1><div class="card"><p>All your answers are saved. You can close this page.</p></div>
{% endblock %}""",
    "login.html": """{% extends "base.html" %}{% block heading %}Admin{% endblock %}{% block body %}
<h1>Study admin</h1>
<form method="post" action="/admin/login" class="card">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <div class="field"><label for="token">Admin token</label><input id="token" name="token" type="password" required autocomplete="current-password"></div>
  <button type="submit">Sign in</button>
</form>
{% endblock %}""",
    "admin.html": """{% extends "base.html" %}{% block heading %}Admin{% endblock %}{% block body %}
<h1>Study admin</h1>
{% if consent_is_default %}<div class="card notice" role="note"><p>Participants see the default consent text: restart with
<code>--consent FILE</code> holding your study's duration, investigator, contact and ethics approval.</p></div>{% endif %}
{% if consent_unfilled %}<div class="card notice" role="note"><p>Your consent text still holds "[Fill in: …]" parts:
participants see them as they are. Fill them in and restart with <code>--consent FILE</code>.</p></div>{% endif %}
{% if weak_token %}<div class="card notice" role="note"><p>The admin token is weak: {{ weak_token }}. Restart with a
long random BRAINBENCH_ADMIN_TOKEN.</p></div>{% endif %}
<div class="card"><table>
  <tr><th>test set</th><td>{{ dataset }}</td></tr>
  <tr><th>database</th><td>{{ database }}</td></tr>
  <tr><th>participants</th><td>{{ progress.participants }} ({{ progress.finished }} finished)</td></tr>
  <tr><th>responses</th><td>{{ progress.responses }}</td></tr>
  <tr><th>responses per item</th><td>{{ progress.responses_per_item_min }}–{{ progress.responses_per_item_max }} over {{ progress.n_items }} items</td></tr>
  <tr><th>balance</th><td>{% for count, items in progress.items_by_responses.items() %}{{ items }} items with {{ count }} response{{ "" if count == 1 else "s" }}{{ "; " if not loop.last }}{% endfor %}</td></tr>
  <tr><th>on screen now</th><td>{{ progress.on_screen }} trials (each holds its item until answered, or {{ (progress.hold_s / 60)|round|int }} minutes after the participant's last sign of life)</td></tr>
  <tr><th>catch trials</th><td>{{ progress.catch_correct }} of {{ progress.catch_trials }} correct</td></tr>
</table></div>
<form method="post" action="/admin/setup" class="card">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <div class="field"><label for="trials">Trials per new participant</label><input id="trials" name="trials" type="number" min="1" value="{{ trials }}"></div>
  <button type="submit">Save</button>
</form>
<p><a href="/admin/export/participant_data.csv">Export participant_data.csv</a> ·
<a href="/admin/export/abstract_id_doi.csv">Export abstract_id_doi.csv</a> ·
<a href="/admin/export/catch.csv">Export catch.csv</a></p>
<form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="{{ csrf }}"><button class="secondary" type="submit">Sign out</button></form>
{% endblock %}""",
}
