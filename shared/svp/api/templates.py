"""The status page's templates: plain server-rendered HTML with inline CSS, no script.

Kept as strings in this module so they travel with the package wherever it is copied (the
Cloud Function's source folder included). Autoescaping is on (names end in .html).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from jinja2 import DictLoader

CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:#1d1d1f;background:#f4f4f6}
header{display:flex;align-items:center;justify-content:space-between;gap:.5rem;
  padding:.75rem 1rem;background:#1d1d1f;color:#fff}
header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}
h2{font-size:1.15rem;margin:0 0 .6rem}
h3{font-size:1rem;margin:.8rem 0 .4rem}
section{margin:0 0 1.25rem}
.card,.job{background:#fff;border-radius:12px;padding:1rem;margin:0 0 .75rem;
  box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card>:first-child,.job>:first-child{margin-top:0}
.card>:last-child,.job>:last-child{margin-bottom:0}
.warn{border-left:5px solid #d97706}
.okbox{border-left:5px solid #16a34a}
.button,button{display:inline-block;min-height:44px;padding:.6rem 1.1rem;border:0;
  border-radius:10px;background:#2563eb;color:#fff;font:inherit;font-weight:600;
  text-decoration:none;cursor:pointer}
.button.big{font-size:1.1rem;padding:.8rem 1.4rem}
form button,form .button{margin-top:.75rem}
button.secondary{background:#e5e7eb;color:#1d1d1f}
button.small{min-height:36px;padding:.35rem .8rem;margin:0;font-weight:500}
li.row form{margin-left:auto}
header form button{margin-top:0}
details summary{cursor:pointer;color:#374151;font-size:.9rem;margin-top:.4rem}
button.link{background:none;min-height:0;padding:0;color:#fff;font-weight:400;
  text-decoration:underline}
label{display:block;margin:.5rem 0 .2rem;font-weight:600}
label.check{display:flex;gap:.5rem;align-items:center;font-weight:400}
input[type=text],textarea{width:100%;padding:.6rem;border:1px solid #c7c7cc;border-radius:8px;
  font:inherit}
textarea{min-height:4.5rem}
form.inline{display:inline}
.row{display:flex;flex-wrap:wrap;gap:.4rem .6rem;align-items:center}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:999px;font-size:.85rem;
  font-weight:600;background:#dbeafe;color:#1e40af}
.badge.done{background:#dcfce7;color:#166534}
.badge.failed{background:#fee2e2;color:#991b1b}
.tag{font-size:.85rem;color:#555}
time,.muted{font-size:.8rem;color:#6b7280}
.url{word-break:break-all;margin:.4rem 0}
.error{color:#991b1b;word-break:break-word}
.flash{padding:.7rem 1rem;border-radius:10px;background:#dcfce7}
.flash.error{background:#fee2e2}
.flash.note{background:#fef3c7}
table.stages{width:100%;border-collapse:collapse;font-size:.85rem;margin-top:.5rem}
table.stages th,table.stages td{text-align:left;padding:.25rem .3rem;
  border-bottom:1px solid #eee}
td.failed{color:#991b1b;font-weight:600}
td.done{color:#166534}
td.running{color:#1e40af;font-weight:600}
tr.err td{color:#991b1b;word-break:break-word;border-bottom:1px solid #eee}
ul.plain{list-style:none;padding:0;margin:0}
ul.plain li{padding:.5rem 0;border-bottom:1px solid #eee}
code.key{display:block;padding:.6rem;background:#f4f4f6;border-radius:8px;word-break:break-all}
footer{max-width:46rem;margin:0 auto;padding:0 1rem 2rem;font-size:.85rem;color:#6b7280}
footer a{color:#6b7280}
"""

BASE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}Social Video Processor{% endblock %}</title>
<style>{{ css | safe }}</style>
</head>
<body>
<header>
  <a href="/">Social Video Processor</a>
  {% if user %}
  <form class="inline" method="post" action="/auth/logout">
    <input type="hidden" name="csrf_token" value="{{ csrf }}">
    <button class="link" type="submit">Sign out</button>
  </form>
  {% endif %}
</header>
<main>
{% for category, message in get_flashed_messages(with_categories=true) %}
  <p class="flash {{ category }}" role="status">{{ message }}</p>
{% endfor %}
{% block main %}{% endblock %}
</main>
<footer><a href="/">Refresh</a> · <a href="/health">Health</a></footer>
</body>
</html>
"""

MESSAGE = """{% extends "base.html" %}
{% block title %}{{ title }} · Social Video Processor{% endblock %}
{% block main %}
<section class="card warn">
  <h1>{{ title }}</h1>
  <p>{{ message }}</p>
  {% if retry %}<a class="button" href="/auth/notion/login">Connect Notion again</a>{% endif %}
  <p><a href="/">Back to the status page</a></p>
</section>
{% endblock %}
"""

SIGNED_OUT = """{% extends "base.html" %}
{% block main %}
<section class="card">
  <h1>Your videos, summarized into Notion</h1>
  <p>Save a TikTok, Instagram Reel or YouTube Short in a Notion database with a tag; a page
  shaped like your Content Database comes back: a recipe, a place, anything you track.</p>
  {% if oauth_ready %}
  <a class="button big" id="connect" href="/auth/notion/login">Connect Notion</a>
  <p class="muted">Notion asks which pages and databases to share: pick your Link Database
  and your Content Databases.</p>
  {% else %}
  <p class="error">Notion sign-in is not configured on this server: set
  {{ missing | join(", ") }}.</p>
  {% endif %}
</section>
{% endblock %}
"""

JOB = """{% macro job_card(job, csrf, replay=false) %}
<article class="job" id="job-{{ job.job_id }}" data-status="{{ job.status }}">
  <div class="row">
    <span class="badge {{ job.status | replace(' ', '-') }}">{{ job.status }}</span>
    {% if job.tag %}<span class="tag">#{{ job.tag }}</span>{% endif %}
    <time datetime="{{ job.updated_at }}">{{ job.updated_at | when }}</time>
    {% if job.dead_lettered %}<span class="muted">dead-lettered</span>{% endif %}
  </div>
  <p class="url">{% if job.url | web_link %}<a href="{{ job.url }}" rel="noopener noreferrer">
    {{- job.url }}</a>{% else %}{{ job.url }}{% endif %}</p>
  {% if job.page_url %}<p>{% if job.page_url | web_link %}<a href="{{ job.page_url }}"
    rel="noopener noreferrer">Open the page</a>{% else %}Page: {{ job.page_url }}{% endif %}
    {% if job.duplicate_of %}<span class="muted">(same video as an earlier link)</span>
    {% endif %}</p>{% endif %}
  {% if job.error %}<p class="error">{{ job.error }}</p>{% endif %}
  <details{% if job.status != "done" %} open{% endif %}>
  <summary>Stages{% if job.status == "done" %}: all done in {{ job.stages.values()
    | map(attribute="duration_ms") | select | sum | seconds }} of work{% endif %}</summary>
  <table class="stages">
    <tr><th>stage</th><th>state</th><th>time</th><th>tries</th></tr>
    {% for name, stage in job.stages.items() %}
    <tr><td>{{ name }}</td><td class="{{ stage.state }}">{{ stage.state }}</td>
      <td>{{ stage.duration_ms | seconds }}</td><td>{{ stage.attempts or "" }}</td></tr>
    {% if stage.error and stage.state != "done" and stage.error != job.error %}
    <tr class="err"><td colspan="4">{{ stage.error }}</td></tr>{% endif %}
    {% endfor %}
  </table>
  </details>
  {% if replay %}
  <form method="post" action="/api/jobs/{{ job.job_id }}/replay">
    <input type="hidden" name="csrf_token" value="{{ csrf }}">
    <button type="submit" class="replay">Replay</button>
  </form>
  {% endif %}
</article>
{% endmacro %}
"""

STATUS = """{% extends "base.html" %}
{% from "job.html" import job_card %}
{% block main %}
<section class="card">
  <p>Connected to <strong>{{ user.workspace_name or "your Notion workspace" }}</strong>
  {%- if user.owner_name %} as {{ user.owner_name }}{% endif %}.</p>
</section>

{% if user.needs_reconnect %}
<section class="card warn" id="reconnect">
  <h2>Notion stopped accepting this connection</h2>
  <p>{{ user.reconnect_reason or "The access was revoked." }} Your links are not checked
  until you reconnect.</p>
  <a class="button" href="/auth/notion/login">Reconnect Notion</a>
</section>
{% endif %}

{% if new_key %}
<section class="card okbox" id="new-key">
  <h2>Your new API key</h2>
  <p>Copy it now: it is shown only this once.</p>
  <code class="key">{{ new_key }}</code>
  <p class="muted">Send it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
</section>
{% endif %}

{% if failed %}
<section id="attention">
  <h2>Needs attention ({{ failed | length }})</h2>
  {% for job in failed %}{{ job_card(job, csrf, replay=true) }}{% endfor %}
</section>
{% endif %}

<section id="links">
  <h2>Recent links</h2>
  {% for job in jobs if job.status != "failed" %}{{ job_card(job, csrf) }}
  {% else %}
  <p class="card muted">No links yet{% if not registrations %}: register your databases
  below, then add a link with status <em>pending</em> to your Link Database{% endif %}.</p>
  {% endfor %}
</section>

<section id="databases">
  <h2>Your databases</h2>
  <div class="card">
  {% if registrations %}
  <ul class="plain">
    {% for r in registrations %}
    <li class="row">
      {% if r.kind == "link" %}<strong>Link Database</strong>{% else %}
      <strong>#{{ r.tag }}</strong>{% endif %}
      <span>{{ r.title or "(untitled)" }}</span>
      {% if r.many %}<span class="muted">one page per item</span>{% endif %}
      {% if r.prompt %}<span class="muted">prompt: {{ r.prompt }}</span>{% endif %}
      <form class="inline" method="post" action="{{ '/api/link-database/unregister'
          if r.kind == 'link' else '/api/databases/unregister' }}">
        <input type="hidden" name="csrf_token" value="{{ csrf }}">
        {% if r.kind == "link" %}<input type="hidden" name="database"
          value="{{ r.data_source_id }}">{% else %}<input type="hidden" name="tag"
          value="{{ r.tag }}">{% endif %}
        <button type="submit" class="secondary small">Remove</button>
      </form>
    </li>
    {% endfor %}
  </ul>
  {% else %}<p class="muted">Nothing registered yet.</p>{% endif %}
  </div>

  <form class="card" id="link-form" method="post" action="/api/link-database/register">
    <h3>Add a Link Database</h3>
    <input type="hidden" name="csrf_token" value="{{ csrf }}">
    <label for="link-db">Notion URL or id</label>
    <input type="text" id="link-db" name="database" required
      placeholder="https://www.notion.so/...">
    <label class="check"><input type="checkbox" name="fix"> Add the properties it lacks
      (url, tag, status)</label>
    <button type="submit">Register Link Database</button>
  </form>

  <form class="card" id="content-form" method="post" action="/api/databases/register">
    <h3>Add a Content Database</h3>
    <input type="hidden" name="csrf_token" value="{{ csrf }}">
    <label for="content-db">Notion URL or id</label>
    <input type="text" id="content-db" name="database" required
      placeholder="https://www.notion.so/...">
    <label for="content-tag">Tag</label>
    <input type="text" id="content-tag" name="tag" required placeholder="e.g. cooking">
    <label for="content-prompt">Extra guidance for the summary (optional)</label>
    <textarea id="content-prompt" name="prompt"></textarea>
    <label class="check"><input type="checkbox" name="many"> One page per item the video
      presents</label>
    <label class="check"><input type="checkbox" name="fix"> Add a url property if it has
      none</label>
    <button type="submit">Register Content Database</button>
  </form>
</section>

<section id="keys">
  <h2>API keys</h2>
  {% if keys %}
  <div class="card">
  <ul class="plain">
    {% for k in keys %}
    <li class="row" id="key-{{ k.key_id }}">
      <code>{{ k.hint }}…</code>
      <span class="muted">made {{ k.created_at | when }},
        last used {{ k.last_used_at | when }}</span>
      <form class="inline" method="post" action="/api/keys/{{ k.key_id }}/revoke">
        <input type="hidden" name="csrf_token" value="{{ csrf }}">
        <button type="submit" class="secondary small revoke">Revoke</button>
      </form>
    </li>
    {% endfor %}
  </ul>
  </div>
  {% endif %}
  <form class="card" method="post" action="/api/keys">
    <input type="hidden" name="csrf_token" value="{{ csrf }}">
    <p>Scripts can call the API with a key instead of this browser's session.</p>
    <button type="submit" class="secondary" id="create-key">Create an API key</button>
  </form>
</section>

<section id="sessions">
  <h2>Signed in</h2>
  <div class="card">
  <ul class="plain">
    {% for s in sessions %}
    <li class="row" id="session-{{ s.session }}">
      <span>{{ s.user_agent | browser }}</span>
      {% if s.current %}<span class="badge">this browser</span>{% endif %}
      <span class="muted">since {{ s.created_at | when }},
        last seen {{ s.last_seen_at | when }}</span>
      <form class="inline" method="post" action="/api/sessions/{{ s.session }}/revoke">
        <input type="hidden" name="csrf_token" value="{{ csrf }}">
        <button type="submit" class="secondary small revoke">Sign out</button>
      </form>
    </li>
    {% endfor %}
  </ul>
  <form method="post" action="/auth/logout-everywhere">
    <input type="hidden" name="csrf_token" value="{{ csrf }}">
    <button type="submit" class="secondary" id="sign-out-everywhere">Sign out everywhere</button>
  </form>
  </div>
</section>
{% endblock %}
"""

TEMPLATES = {
    "base.html": BASE,
    "message.html": MESSAGE,
    "signed_out.html": SIGNED_OUT,
    "job.html": JOB,
    "status.html": STATUS,
}


def web_link(url: Any) -> bool:
    """Only http(s) links become hrefs (a link entry could hold `javascript:`)."""
    return isinstance(url, str) and url.lower().startswith(("https://", "http://"))


def when(iso: Any) -> str:
    """2026-11-26T13:28:53+00:00 -> 2026-11-26 13:28 UTC"""
    if not isinstance(iso, str) or len(iso) < 16:
        return str(iso or "")
    return f"{iso[:10]} {iso[11:16]} UTC" if iso.endswith("+00:00") else iso


def seconds(ms: Any) -> str:
    return "" if ms is None else f"{ms / 1000:.1f} s"


def browser(user_agent: Any) -> str:
    """A short name for a session's browser, from its User-Agent."""
    text = str(user_agent or "")
    for name in ("Edg", "OPR", "Firefox", "Chrome", "Safari", "curl", "python"):
        if name in text:
            systems = ("Android", "iPhone", "iPad", "Mac OS", "Windows", "Linux")
            system = next((s for s in systems if s in text), "")
            label = {"Edg": "Edge", "OPR": "Opera"}.get(name, name)
            return f"{label} on {system}" if system else label
    return text[:40] or "a browser"


def install(app: Flask) -> None:
    app.jinja_loader = DictLoader(TEMPLATES)  # type: ignore[assignment]
    app.jinja_env.filters["web_link"] = web_link
    app.jinja_env.filters["seconds"] = seconds
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["browser"] = browser
    app.jinja_env.globals["css"] = CSS
