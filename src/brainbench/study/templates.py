"""The study's pages (Jinja2, on brainbench.web's base page): plain HTML forms that work with a keyboard, a screen reader and on a phone."""

from __future__ import annotations

TEMPLATES = {
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
