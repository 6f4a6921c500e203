"""The study's pages (Jinja2): plain HTML forms that work with a keyboard, a screen reader and on a phone."""

from __future__ import annotations

_BASE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block heading %}{% endblock %} – {{ title }}</title>
<style>
  :root { color-scheme: light; --accent: #0b5cad; }
  body { font: 17px/1.55 system-ui, sans-serif; margin: 0; color: #1a1a1a; background: #f6f7f9; }
  main { max-width: 68rem; margin: 0 auto; padding: 1rem; }
  h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
  .card { background: #fff; border: 1px solid #d5d9e0; border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }
  .abstracts { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
  @media (max-width: 48rem) { .abstracts { grid-template-columns: 1fr; } }
  .abstract p { margin: 0; }
  label.choice { display: flex; gap: .5rem; align-items: center; font-weight: 600; margin-bottom: .5rem; min-height: 44px; }
  input[type=radio], input[type=checkbox] { width: 1.4rem; height: 1.4rem; }
  input[type=range] { width: 100%; min-height: 44px; }
  fieldset { border: 1px solid #d5d9e0; border-radius: 8px; margin: 0 0 1rem; padding: .75rem 1rem; }
  legend { font-weight: 600; padding: 0 .25rem; }
  button { font: inherit; background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: .7rem 1.4rem; min-height: 44px; cursor: pointer; }
  button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
  select, input[type=number], input[type=text], input[type=password] { font: inherit; padding: .4rem; min-height: 44px; width: 100%; max-width: 24rem; box-sizing: border-box; }
  .field { margin-bottom: .8rem; } .field label { display: block; font-weight: 600; }
  progress { width: 100%; height: 1rem; }
  .error { border-color: #b00020; color: #b00020; }
  .scale { display: flex; justify-content: space-between; font-size: .85rem; color: #555; }
  table { border-collapse: collapse; } td, th { padding: .3rem .8rem; border-bottom: 1px solid #ddd; text-align: left; }
</style>
</head>
<body><main>
{% block body %}{% endblock %}
</main></body></html>
"""

TEMPLATES = {
    "base.html": _BASE,
    "consent.html": """{% extends "base.html" %}{% block heading %}Consent{% endblock %}{% block body %}
<h1>{{ title }}</h1>
<div class="card">
<p>You will read {{ trials }} pairs of neuroscience abstracts. In each pair one abstract is as published and
the other has its results changed. Choose the one you think is real, then say how confident you are and how
much expertise you have on its topic.</p>
<p>Your answers are stored without your name. You can stop at any time; closing the page and coming back
later continues where you left off.</p>
</div>
<form method="post" action="/consent" class="card">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <label class="choice"><input type="checkbox" name="agree" value="yes" required> I have read the above and agree to take part.</label>
  <button type="submit">Start</button>
</form>
{% endblock %}""",
    "profile.html": """{% extends "base.html" %}{% block heading %}About you{% endblock %}{% block body %}
<h1>About you</h1>
<form method="post" action="/profile" class="card">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <div class="field"><label for="age">Age</label><input id="age" name="age" type="number" min="18" max="100" required></div>
  <div class="field"><label for="country">Country</label><input id="country" name="country" type="text" maxlength="100" required autocomplete="country-name"></div>
  <div class="field"><label for="position">Current position</label>
    <select id="position" name="position" required><option value="">Choose…</option>
    {% for option in positions %}<option value="{{ option }}">{{ "Other" if option == "__other" else option }}</option>{% endfor %}</select></div>
  <div class="field"><label for="experience">Years of research experience in neuroscience</label><input id="experience" name="experience" type="number" min="0" max="70" required></div>
  <div class="field"><label for="sex">Gender identity</label>
    <select id="sex" name="sex" required><option value="">Choose…</option>
    {% for option in sexes %}<option>{{ option }}</option>{% endfor %}</select></div>
  <button type="submit">Continue</button>
</form>
{% endblock %}""",
    "trial.html": """{% extends "base.html" %}{% block heading %}Trial {{ trial.position + 1 }} of {{ trial.total }}{% endblock %}{% block body %}
<h1>Which abstract is the published one?</h1>
<p><label for="progress">Trial {{ trial.position + 1 }} of {{ trial.total }}</label>
<progress id="progress" max="{{ trial.total }}" value="{{ trial.position }}">{{ trial.position }} of {{ trial.total }}</progress></p>
<form method="post" action="/trial" id="trial">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <input type="hidden" name="position" value="{{ trial.position }}">
  <input type="hidden" name="item_id" value="{{ trial.item_id }}">
  <input type="hidden" name="confidence_touched" id="confidence_touched" value="0">
  <input type="hidden" name="expertise_touched" id="expertise_touched" value="0">
  <input type="hidden" name="blurs" id="blurs" value="0">
  <fieldset><legend>Choose the abstract you think is real</legend>
  <div class="abstracts">
    {% for label in ["A", "B"] %}
    <div class="card abstract">
      <label class="choice"><input type="radio" name="choice" value="{{ label }}" required aria-describedby="text-{{ label }}"> Abstract {{ label }}</label>
      <p id="text-{{ label }}">{{ texts[loop.index0] }}</p>
    </div>
    {% endfor %}
  </div>
  </fieldset>
  <fieldset><legend><label for="confidence">How confident are you?</label></legend>
    <input type="range" id="confidence" name="confidence" min="0" max="100" value="50" aria-valuetext="50 of 100">
    <div class="scale" aria-hidden="true"><span>not at all</span><span>completely</span></div></fieldset>
  <fieldset><legend><label for="expertise">How much expertise do you have on this topic?</label></legend>
    <input type="range" id="expertise" name="expertise" min="0" max="100" value="50" aria-valuetext="50 of 100">
    <div class="scale" aria-hidden="true"><span>none</span><span>expert</span></div></fieldset>
  <label class="choice"><input type="checkbox" name="recognised" value="yes"> I recognise this study</label>
  <button type="submit">{{ "Finish" if trial.position + 1 == trial.total else "Next" }}</button>
</form>
<script>
  for (const name of ["confidence", "expertise"]) {
    const slider = document.getElementById(name);
    slider.addEventListener("input", () => {
      document.getElementById(name + "_touched").value = "1";
      slider.setAttribute("aria-valuetext", slider.value + " of 100");
    });
  }
  window.addEventListener("blur", () => { const field = document.getElementById("blurs"); field.value = String(Number(field.value) + 1); });
</script>
{% endblock %}""",
    "done.html": """{% extends "base.html" %}{% block heading %}Thank you{% endblock %}{% block body %}
<h1>Thank you</h1><div class="card"><p>All your answers are saved. You can close this page.</p></div>
{% endblock %}""",
    "error.html": """{% extends "base.html" %}{% block heading %}Problem{% endblock %}{% block body %}
<h1>Something needs your attention</h1><div class="card error" role="alert"><p>{{ message }}</p></div>
<p><a href="/">Back to the study</a></p>
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
<div class="card"><table>
  <tr><th>test set</th><td>{{ dataset }}</td></tr>
  <tr><th>database</th><td>{{ database }}</td></tr>
  <tr><th>participants</th><td>{{ progress.participants }} ({{ progress.finished }} finished)</td></tr>
  <tr><th>responses</th><td>{{ progress.responses }}</td></tr>
  <tr><th>responses per item</th><td>{{ progress.responses_per_item_min }}–{{ progress.responses_per_item_max }} over {{ progress.items }} items</td></tr>
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
{% endblock %}""",
}
