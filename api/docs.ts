// A self-contained docs page (no CDN: the API may run where there is no internet): it reads /openapi.json.
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>calendar-sync API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #dde}
.op{margin:.6rem 0;padding:.5rem .7rem;border:1px solid #e3e6ef;border-radius:6px}
.m{display:inline-block;min-width:4.2rem;font-weight:600;font-family:monospace}
.get{color:#1769aa}.post{color:#2e7d32}.put{color:#8a5a00}.delete{color:#b00020}
code{font-family:monospace}.s{color:#555}details pre{background:#f6f7fb;padding:.5rem;overflow:auto;font-size:12px}
</style></head><body>
<h1>calendar-sync API</h1>
<p>Send <code>Authorization: Bearer &lt;token&gt;</code>. Errors are <code>application/problem+json</code>.
The machine-readable document is <a href="/openapi.json">/openapi.json</a>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const byTag = {};
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const tag = (op.tags && op.tags[0]) || 'other';
    (byTag[tag] = byTag[tag] || []).push({ path, method, op });
  }
  const el = document.getElementById('ops'); el.textContent = '';
  for (const [tag, ops] of Object.entries(byTag)) {
    const h = document.createElement('h2'); h.textContent = tag; el.appendChild(h);
    for (const { path, method, op } of ops) {
      const d = document.createElement('div'); d.className = 'op';
      const m = document.createElement('span'); m.className = 'm ' + method; m.textContent = method.toUpperCase();
      const p = document.createElement('code'); p.textContent = path;
      const s = document.createElement('div'); s.className = 's'; s.textContent = op.summary || '';
      d.append(m, p, s);
      const body = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
      if (body) { const det = document.createElement('details'); const sum = document.createElement('summary'); sum.textContent = 'request body';
        const pre = document.createElement('pre'); pre.textContent = JSON.stringify(body.schema, null, 2); det.append(sum, pre); d.appendChild(det); }
      el.appendChild(d);
    }
  }
}).catch(e => { document.getElementById('ops').textContent = 'Could not load /openapi.json: ' + e; });
</script></body></html>`;
