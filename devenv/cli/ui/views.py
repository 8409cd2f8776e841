"""The page of `devenv ui` and its fragments, as HTML strings (pure, every value escaped).

The page is server-rendered: a small inline script (no framework, no build step) replaces each
section with a fresh fragment two seconds after the last one came (never piling up requests on
a large stack), streams logs over server-sent events, and
posts actions with the page's CSRF token. Nothing secret is in any fragment: an env value is
sent only when its Reveal button asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

# (action, what the button says, what it will do: shown before it runs)
SERVICE_ACTIONS = (
    ("reset", "Reset", "put {s}'s database back to its migrated and seeded state from its "
     "golden template (other services untouched)"),
    ("reset-hard", "Reset --hard", "rebuild {s}'s database by replaying its migration and seed "
     "files, then reset it"),
    ("migrate", "Migrate", "apply {s}'s pending migrations and new seeds"),
)
REPLICA_ACTIONS = (
    ("replica-pause", "Pause replay", "stop WAL replay on every replica of {s} (reads lag on "
     "demand)"),
    ("replica-resume", "Resume replay", "resume WAL replay on every replica of {s}"),
)


def _e(value: object) -> str:
    return escape("-" if value is None or value == "" else str(value))


def _button(action: str, label: str, target: str, says: str) -> str:
    return (f'<button class="act" data-action="{_e(action)}" data-target="{_e(target)}" '
            f'data-says="{_e(says)}">{_e(label)}</button>')


def _table(heads: Sequence[str], rows: list[list[str]], *, id_: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{id_}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def sparkline(points: Sequence[float], *, width: int = 160, height: int = 28) -> str:
    """The last minutes of a replica's lag as an inline SVG polyline (no chart framework)."""
    if len(points) < 2:
        return '<svg class="spark" width="160" height="28"></svg>'
    top = max(points) or 1.0
    step = width / (len(points) - 1)
    coords = " ".join(f"{i * step:.1f},{height - (p / top) * (height - 2) - 1:.1f}"
                      for i, p in enumerate(points))
    return (f'<svg class="spark" width="{width}" height="{height}" role="img" '
            f'aria-label="lag, max {top:g}"><polyline fill="none" stroke="currentColor" '
            f'points="{coords}"/></svg>')


def servers(status: dict[str, Any], facts: dict[str, dict[str, Any]],
            lag: dict[str, list[float]]) -> str:
    """Servers and each replica as its own row; `facts`: image, storage, data size per
    server; `lag`: each replica's recent lag in bytes."""
    replicas = {r["name"]: r for r in status.get("replicas", [])}
    rows = []
    for s in status["servers"]:
        name = s["name"]
        fact = facts.get(s.get("replica_of") or name, {})
        replica = replicas.get(name)
        lag_text = "-"
        if replica is not None:
            lag_text = (f'{_e(replica["lag_bytes"])} B / {_e(replica["lag_seconds"])} s '
                        f'{sparkline(lag.get(name, []))}')
        ready = "verified" if s.get("verified_at") else "-"
        rows.append([
            _e(name) + (f' <small>replica of {_e(s["replica_of"])}</small>'
                        if s.get("replica_of") else ""),
            _e(s["kind"]), _e(fact.get("image")), _e(fact.get("major")),
            f'<span class="st-{_e(s["state"])}">'
            f'{_e(s["state"])}</span>', _e(s["health"]), ready, _e(s["port"]),
            _e(fact.get("storage")), _e(fact.get("size")), lag_text,
            " ".join(_button(a, label, name, says.format(s=name))
                     for a, label, says in REPLICA_ACTIONS) if fact.get("replicas") and
            not s.get("replica_of") else ""])
    return _table(["server", "kind", "image", "major", "state", "health", "READY", "port",
                   "storage",
                   "data", "replica lag", ""], rows, id_="servers-table")


def services(status: dict[str, Any], extra: dict[str, dict[str, Any]]) -> str:
    """Services with their migration state, reads, Redis prefix and keys, and actions;
    `extra`: per service reads, redis prefix, key count, template state."""
    rows = []
    for v in status["services"]:
        name = v["service"]
        more = extra.get(name, {})
        drift = "; ".join(d["problem"] for d in v.get("drift") or []) or "-"
        actions = " ".join(_button(a, label, name, says.format(s=name))
                           for a, label, says in SERVICE_ACTIONS) if v["database"] else ""
        actions += (f' <button class="snap" data-target="{_e(name)}">Save snapshot</button>'
                    if v["database"] or more.get("prefix") else "")
        snaps = " ".join(
            f'{_e(snap)} ' + _button("snapshot-restore", "Restore", f"{name}/{snap}",
                                     f"restore {name}'s data (database and Redis keys) to "
                                     f"snapshot {snap}")
            for snap in more.get("snapshots", [])) or "-"
        rows.append([
            f'<a href="#" class="svc" data-service="{_e(name)}">{_e(name)}</a>',
            _e(v["database"]), _e(v["role"]), _e(v.get("version")), _e(v.get("pending")),
            escape(drift), _e(v.get("seeds_changed")), _e(more.get("template")),
            _e(", ".join(more.get("reads", [])) or None), _e(more.get("prefix")),
            _e(more.get("keys")), snaps, actions])
    return _table(["service", "database", "role", "version", "pending", "drift",
                   "edited seeds", "template", "reads", "redis prefix", "keys", "snapshots",
                   ""], rows,
                  id_="services-table")


def env(service: str, masked: dict[str, str]) -> str:
    rows = [[_e(k), f'<code class="val" data-service="{_e(service)}" data-name="{_e(k)}">'
             f'{_e(v)}</code>',
             f'<button class="reveal" data-service="{_e(service)}" data-name="{_e(k)}">'
             'Reveal</button> <button class="copy" data-service="' + _e(service) +
             f'" data-name="{_e(k)}">Copy</button>'] for k, v in masked.items()]
    return f"<h3>{_e(service)}: environment</h3>" + _table(["variable", "value", ""], rows,
                                                           id_="env-table")


def tables(service: str, found: list[tuple[str, int, list[str], list[tuple[Any, ...]]]]) -> str:
    """(table, row count, columns, first rows) read as the service's own role."""
    parts = [f"<h3>{_e(service)}: tables (read as its own role)</h3>"]
    if not found:
        parts.append("<p>no table</p>")
    for name, count, columns, rows in found:
        parts.append(f"<h4>{_e(name)} <small>{count} rows</small></h4>")
        parts.append(_table(columns, [[_e(c) for c in row] for row in rows],
                            id_=f"rows-{escape(name)}"))
    return "".join(parts)


def page(project: str, csrf: str, log_servers: Sequence[str]) -> str:
    options = "".join(f'<option value="{_e(s)}">{_e(s)}</option>' for s in log_servers)
    return PAGE.replace("{project}", _e(project)).replace("{csrf}", _e(csrf)).replace(
        "{options}", options)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="csrf" content="{csrf}">
<title>devenv: {project}</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.st-running{color:#070}
.st-exited,.st-missing,.st-dead{color:#b00}#log{height:18em;overflow:auto;background:#111;
color:#ddd;font:12px monospace;padding:.5em;white-space:pre}#result{white-space:pre-wrap;
font:12px monospace;background:#f7f7f7;padding:.5em}.spark{color:#06c;vertical-align:middle}
</style></head><body>
<h1>devenv: {project}</h1>
<h2>Servers</h2><div id="servers">loading</div>
<h2>Services</h2><div id="services">loading</div>
<div id="result"></div>
<div id="detail"></div>
<h2>Logs</h2>
<select id="log-server">{options}</select> <input id="log-filter" placeholder="filter">
<div id="log"></div>
<script>
const csrf=document.querySelector('meta[name=csrf]').content;
async function refresh(){for(const id of ['servers','services']){
 const r=await fetch('/fragment/'+id);const el=document.getElementById(id);
 if(r.ok){el.innerHTML=await r.text();}else{el.textContent=await r.text();}}}
async function post(path,body){const r=await fetch(path,{method:'POST',headers:{
 'Content-Type':'application/json','X-Devenv-CSRF':csrf},body:JSON.stringify(body)});
 return [r.status,await r.json()];}
document.addEventListener('click',async e=>{const t=e.target;
 if(t.classList.contains('act')){e.preventDefault();
  if(!confirm('This will '+t.dataset.says+'.'))return;
  document.getElementById('result').textContent=t.dataset.action+' '+t.dataset.target+' ...';
  const [s,j]=await post('/api/action',{action:t.dataset.action,target:t.dataset.target});
  document.getElementById('result').textContent=(j.ok?'done':'failed')+' in '+j.seconds+
   's: '+t.dataset.action+' '+t.dataset.target+'\\n'+j.output;refresh();}
 else if(t.classList.contains('snap')){e.preventDefault();
  const n=prompt('Save the data of '+t.dataset.target+' as it is now (database and Redis keys) '+
   'as snapshot:');if(!n)return;
  document.getElementById('result').textContent='snapshot '+t.dataset.target+' '+n+' ...';
  const [s,j]=await post('/api/action',{action:'snapshot-save',target:t.dataset.target+'/'+n});
  document.getElementById('result').textContent=(j.ok?'done':'failed')+' in '+j.seconds+
   's: snapshot save '+t.dataset.target+' '+n+'\\n'+j.output;refresh();}
 else if(t.classList.contains('svc')){e.preventDefault();const s=t.dataset.service;
  const env=await fetch('/fragment/env/'+encodeURIComponent(s));
  const tab=await fetch('/fragment/tables/'+encodeURIComponent(s));
  document.getElementById('detail').innerHTML=(await env.text())+(await tab.text());}
 else if(t.classList.contains('reveal')||t.classList.contains('copy')){
  const [s,j]=await post('/api/reveal',{service:t.dataset.service,name:t.dataset.name});
  if(s!==200)return;
  if(t.classList.contains('copy')){navigator.clipboard&&navigator.clipboard.writeText(j.value);}
  else{document.querySelector('code.val[data-service="'+t.dataset.service+'"][data-name="'+
   t.dataset.name+'"]').textContent=j.value;}}});
let source=null;function logs(){if(source)source.close();const log=document.getElementById('log');
 log.textContent='';const s=document.getElementById('log-server').value;if(!s)return;
 source=new EventSource('/logs/'+encodeURIComponent(s));source.onmessage=m=>{
 const f=document.getElementById('log-filter').value;if(f&&!m.data.includes(f))return;
 log.textContent+=m.data+'\\n';log.scrollTop=log.scrollHeight;};}
document.getElementById('log-server').addEventListener('change',logs);
async function loop(){try{await refresh();}finally{setTimeout(loop,2000);}}
loop();logs();
</script></body></html>
"""
