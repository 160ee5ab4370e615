import BerthAPI
import BerthControlPlane
/// The dashboard's page, script and style, served by Berth itself: it works with no network
/// at all. The page is drawn in the browser from the admin API and refreshes itself.
enum DashboardAssets {
    static func login(message: String?) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Berth · log in</title>
        <style>
        body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;display:flex;min-height:100vh;margin:0;align-items:center;justify-content:center}
        form{background:#fff;padding:2rem;border-radius:10px;box-shadow:0 2px 12px #0002;width:min(92vw,26rem)}
        h1{margin:0 0 1rem;font-size:1.4rem}label{display:block;margin-bottom:.4rem;color:#4a5568}
        input{width:100%;box-sizing:border-box;padding:.6rem;font:inherit;border:1px solid #cbd2dc;border-radius:6px}
        button{margin-top:1rem;width:100%;padding:.6rem;font:inherit;border:0;border-radius:6px;background:#2456d6;color:#fff;cursor:pointer}
        .error{color:#b42318;margin:.6rem 0 0}.hint{color:#6b7280;font-size:.85rem}
        </style></head>
        <body><form method="post" action="/login">
        <h1>Berth</h1>
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
        <p class="hint">It is in <code>.berth/admin-token</code> next to the project the server runs.</p>
        \(message.map { "<p class=\"error\" role=\"alert\">\($0)</p>" } ?? "")
        <button type="submit">Log in</button>
        </form></body></html>
        """
    }

    static let page = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Berth</title><link rel="stylesheet" href="/assets/app.css"></head>
        <body>
        <header><a class="brand" href="#/">Berth</a><span id="where"></span><span class="spacer"></span><span id="live" title="updates every 2 s">●</span>
        <form method="post" action="/logout"><button type="submit">Log out</button></form></header>
        <div id="engine" class="banner" role="alert" hidden></div>
        <main id="main"><p>Loading…</p></main>
        <script src="/assets/app.js"></script>
        </body></html>
        """

    static let style = """
        :root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f6f7f9;--card:#fff;--accent:#2456d6;--ok:#12805c;--warn:#b54708;--bad:#b42318}
        *{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
        header{display:flex;gap:.8rem;align-items:center;padding:.6rem 1rem;background:#111827;color:#fff;position:sticky;top:0;z-index:1}
        header a{color:#fff;text-decoration:none}.brand{font-weight:700;letter-spacing:.02em}.spacer{flex:1}
        header button{background:none;border:1px solid #fff6;color:#fff;border-radius:6px;padding:.2rem .6rem;cursor:pointer}
        #live{color:#3ddc97;font-size:.8rem}#live.stale{color:#f97066}#where{color:#cbd5e1;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
        main{padding:1rem;max-width:1200px;margin:0 auto}
        h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.4rem 0 .6rem}
        a{color:var(--accent)}.muted{color:var(--muted)}
        .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:.8rem}
        .card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.9rem}
        .card h3{margin:0 0 .4rem;font-size:1.05rem}
        .kv{display:grid;grid-template-columns:auto 1fr;gap:.15rem .8rem;font-size:.9rem}.kv dt{color:var(--muted)}.kv dd{margin:0;overflow-wrap:anywhere}
        .badge{display:inline-block;padding:.05rem .5rem;border-radius:99px;font-size:.8rem;font-weight:600;background:#eef2ff;color:#3730a3}
        .badge.active,.badge.healthy,.badge.done{background:#dcfce7;color:var(--ok)}.badge.provisioning,.badge.running,.badge.in_progress,.badge.stopping{background:#fef3c7;color:var(--warn)}
        .badge.degraded,.badge.failed,.badge.stopped_with_code,.badge.deleted{background:#fee4e2;color:var(--bad)}
        .scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:10px}
        table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{padding:.45rem .7rem;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap}
        th{color:var(--muted);font-weight:600;background:#fafbfc}tr:last-child td{border-bottom:0}
        .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:.8rem}
        .chart{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.6rem .8rem}
        .chart h4{margin:0 0 .3rem;font-size:.9rem}.chart svg{width:100%;height:120px;display:block}.legend{font-size:.8rem;color:var(--muted)}
        .logs{background:#0b1020;color:#d7e0f0;border-radius:10px;padding:.7rem;font:12.5px/1.5 ui-monospace,monospace;height:24rem;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
        .logs .stderr{color:#ff9b8f}.logs .stderr::before{content:"stderr ";color:#f97066;font-weight:700}.logs .meta{color:#7b8bb0}
        .timeline{list-style:none;padding:0;margin:0}.timeline li{padding:.35rem 0;border-bottom:1px dashed var(--line)}
        .error{color:var(--bad)}
        .banner{background:#fee4e2;color:var(--bad);border-bottom:1px solid #f97066;padding:.6rem 1rem;font-weight:600}
        @media (max-width:600px){main{padding:.6rem}th,td{padding:.4rem .5rem}.charts{grid-template-columns:1fr}}
        """

    static let script = #"""
        "use strict";
        const main = document.getElementById("main");
        const where = document.getElementById("where");
        const live = document.getElementById("live");
        const engineBanner = document.getElementById("engine");
        let timer = null, logSource = null, renderToken = 0;

        const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));
        const badge = (s) => `<span class="badge ${esc(s)}">${esc(s)}</span>`;
        const when = (t) => t ? new Date(t).toLocaleString() : "-";
        const ago = (t) => { if (!t) return "-"; let s = Math.max(0, (Date.now() - new Date(t)) / 1000);
          return s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`; };
        const bytes = (b) => b == null ? "-" : b > 1 << 30 ? (b / (1 << 30)).toFixed(1) + " GiB" : (b / (1 << 20)).toFixed(1) + " MiB";
        const num = (v, d = 1) => v == null ? "-" : Number(v).toFixed(d);

        // A change (`method` other than GET) goes as JSON: the admin API takes no other body
        // with the session cookie (see SameOriginRule), and fetch sends this page's Origin.
        async function api(path, { method = "GET", data } = {}) {
          const init = { method, credentials: "same-origin", headers: { "Accept": "application/json" } };
          if (method !== "GET" && method !== "HEAD") { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(data ?? {}); }
          const response = await fetch(path, init);
          if (response.status === 401) { location.href = "/login"; throw new Error("logged out"); }
          const body = await response.json();
          if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
          return body;
        }

        function chart(title, points, series, unit) {
          const w = 320, h = 110, pad = 4;
          const values = points.flatMap((p) => series.map((s) => p[s.key]).filter((v) => v != null));
          const max = Math.max(1e-9, ...values);
          const x = (i) => pad + (i / Math.max(1, points.length - 1)) * (w - 2 * pad);
          const y = (v) => h - pad - (v / max) * (h - 2 * pad);
          const lines = series.map((s) => {
            let d = "", pen = false;
            points.forEach((p, i) => { const v = p[s.key]; if (v == null) { pen = false; return; }
              d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)} `; pen = true; });
            const dots = points.map((p, i) => p[s.key] == null ? "" : `<circle cx="${x(i).toFixed(1)}" cy="${y(p[s.key]).toFixed(1)}" r="1.4" fill="${s.color}"/>`).join("");
            return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"/>${dots}`;
          }).join("");
          const legend = series.map((s) => `<span style="color:${s.color}">■</span> ${esc(s.label)}`).join(" &nbsp; ");
          return `<div class="chart"><h4>${esc(title)} <span class="muted">max ${num(max, max < 10 ? 2 : 0)} ${esc(unit)}</span></h4>
            <svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" role="img" aria-label="${esc(title)}">
            <line x1="0" y1="${h - pad}" x2="${w}" y2="${h - pad}" stroke="#e4e7ec"/>${lines}</svg>
            <div class="legend">${legend} · last hour</div></div>`;
        }

        function charts(points) {
          return `<div class="charts">
            ${chart("Requests per second", points, [{ key: "rps", color: "#2456d6", label: "req/s" }], "req/s")}
            ${chart("Latency to first byte", points, [{ key: "p50_ms", color: "#12805c", label: "p50" }, { key: "p99_ms", color: "#b54708", label: "p99" }], "ms")}
            ${chart("Cold starts", points, [{ key: "cold_starts", color: "#7c3aed", label: "starts" }], "per 10 s")}
            ${chart("Cold start duration", points, [{ key: "cold_start_ms", color: "#db2777", label: "mean" }], "ms")}
            ${chart("5xx answers", points, [{ key: "errors_5xx", color: "#b42318", label: "5xx" }], "per 10 s")}
            ${chart("Running instances", points, [{ key: "running", color: "#0e7490", label: "running" }], "")}
          </div>`;
        }

        async function overview(token) {
          const [server, containers] = await Promise.all([api("/api/server"), api("/api/containers")]);
          if (token !== renderToken) return;
          where.textContent = server.app ? `${server.app} · deployment ${server.deployment_id}` : "nothing deployed";
          const cards = containers.map((c) => `<div class="card" data-class="${esc(c.class_name)}">
              <h3><a href="#/containers/${encodeURIComponent(c.name)}">${esc(c.name)}</a> ${badge(c.state)}</h3>
              <dl class="kv"><dt>Class</dt><dd>${esc(c.class_name)}</dd>
              <dt>Instances</dt><dd><span class="live-count">${c.live_instances}</span> live of max ${c.max_instances}${c.failed_instances ? `, <span class="error">${c.failed_instances} failed</span>` : ""}</dd>
              <dt>Requests</dt><dd>${num(c.rps, 2)} /s, ${num(c.error_rate * 100, 1)} % errors (last minute)</dd>
              <dt>Deployment</dt><dd>${esc(c.deployment_id)}</dd>
              <dt>Bindings</dt><dd>${c.bindings.map(esc).join(", ")}</dd></dl></div>`).join("");
          main.innerHTML = `<h1>Containers</h1>${cards ? `<div class="cards">${cards}</div>` : '<p class="muted">Nothing is deployed yet: run <code>berth deploy</code>.</p>'}
            <h2>Server</h2><div class="card"><dl class="kv"><dt>Gateway</dt><dd>${esc(server.gateway_url)}</dd>
            <dt>Current deployment</dt><dd>${esc(server.deployment_id ?? "-")}</dd><dt>Started</dt><dd>${when(server.started_at)}</dd>
            <dt>State</dt><dd>${esc(server.state_directory)}</dd></dl></div>`;
        }

        async function classPage(name, token) {
          const ref = encodeURIComponent(name);
          const [c, instances, history, deployments] = await Promise.all([
            api(`/api/containers/${ref}`), api(`/api/containers/${ref}/instances/stats`), api(`/api/containers/${ref}/history`), api("/api/deployments")]);
          if (token !== renderToken) return;
          where.textContent = `${c.name} (${c.class_name})`;
          const rows = instances.map((i) => `<tr><td>${i.instance === "-" ? "-" : `<a href="#/instances/${esc(i.instance)}">${esc(i.instance.slice(0, 12))}</a>`}</td>
              <td>${esc(i.name)}</td><td>${badge(i.state)}</td><td>${ago(i.created)}</td><td>${esc(i.version)}</td>
              <td>${num(i.cpu_percent)} %</td><td>${bytes(i.memory_bytes)}${i.memory_limit_bytes ? " / " + bytes(i.memory_limit_bytes) : ""}</td>
              <td class="websockets">${i.websockets ?? 0}</td></tr>`).join("");
          const deploymentRows = deployments.map((d) => `<tr><td>${d.current ? "★ " : ""}${esc(d.id)}</td><td>${when(d.created_at)}</td><td>${esc(d.source)}</td>
              <td>${esc(d.rollout)}</td><td>${badge(d.progress.state)} ${d.progress.total ? `${d.progress.replaced}/${d.progress.total} replaced` : ""}
              ${d.progress.steps.length ? `step ${d.progress.step}/${d.progress.steps.length}` : ""}</td></tr>`).join("");
          main.innerHTML = `<h1>${esc(c.name)} ${badge(c.state)}</h1>
            <div class="cards"><div class="card"><dl class="kv"><dt>Class</dt><dd>${esc(c.class_name)}</dd><dt>Image</dt><dd>${esc(c.image)}</dd>
              <dt>Instances</dt><dd>${c.live_instances} live of max ${c.max_instances}</dd><dt>Instance type</dt><dd>${esc(c.instance_type)}</dd>
              <dt>Sleep after</dt><dd>${esc(c.sleep_after)}</dd><dt>Open WebSockets</dt><dd class="open-websockets">${c.websockets ?? 0}</dd>
              <dt>Last modified</dt><dd>${when(c.last_modified)}</dd></dl></div>
            <div class="card"><h3>Reached through</h3><dl class="kv"><dt>Bindings</dt><dd>${c.bindings.map((b) => `<code>env.${esc(b)}</code>`).join(", ")}</dd>
              <dt>Routes</dt><dd>${c.routes.length ? c.routes.map(esc).join("<br>") : "a Swift Worker"}</dd></dl></div></div>
            <h2>Instances</h2><div class="scroll"><table><thead><tr><th>Instance</th><th>Object</th><th>State</th><th>Uptime</th><th>Version</th><th>CPU</th><th>Memory</th><th>WebSockets</th></tr></thead>
              <tbody id="instances">${rows || '<tr><td colspan="8" class="muted">No live instance: the next request starts one.</td></tr>'}</tbody></table></div>
            <h2>Last hour</h2>${charts(history)}
            <h2>Deployments</h2><div class="scroll"><table><thead><tr><th>ID</th><th>Created</th><th>Source</th><th>Rollout</th><th>Progress</th></tr></thead><tbody>${deploymentRows}</tbody></table></div>`;
        }

        // The object's own storage (read-only): size, alarm, schedules, tables, key–value pairs.
        function storageCard(st) {
          if (!st) return "";
          if (!st.exists) return `<h2>Storage</h2><p class="muted storage">This object never wrote to its storage.</p>`;
          const schedules = st.schedules.map((s) => `<tr><td><code>${esc(s.id.slice(0, 8))}</code></td><td>${esc(s.callback)}</td><td>${when(s.time)}</td><td><code>${esc(s.payload ?? "")}</code></td></tr>`).join("");
          const tables = st.tables.map((t) => `<tr><td>${esc(t.name)}</td><td>${t.rows}</td></tr>`).join("");
          const keys = st.keys.map((k) => `<tr><td><code>${esc(k.key)}</code></td><td><code>${esc(k.value == null ? `(${k.bytes} bytes)` : k.value.slice(0, 200))}</code></td></tr>`).join("");
          return `<section class="storage"><h2>Storage</h2><div class="cards"><div class="card"><dl class="kv"><dt>Size</dt><dd>${bytes(st.size_bytes)}</dd>
              <dt>Alarm</dt><dd class="alarm">${st.alarm ? `${when(st.alarm)}${st.alarm_retries ? ` (retry ${st.alarm_retries})` : ""}` : "none"}</dd>
              <dt>Its own alarm</dt><dd>${st.object_alarm ? when(st.object_alarm) : "none"}</dd></dl></div>
            <div class="card"><h3>Schedules</h3>${schedules ? `<table><thead><tr><th>ID</th><th>Callback</th><th>Runs</th><th>Payload</th></tr></thead><tbody class="schedules">${schedules}</tbody></table>` : '<p class="muted">None.</p>'}</div>
            <div class="card"><h3>Tables</h3>${tables ? `<table><thead><tr><th>Table</th><th>Rows</th></tr></thead><tbody class="tables">${tables}</tbody></table>` : '<p class="muted">None.</p>'}</div></div>
            <h3>Key–value pairs${st.keys_truncated ? ` (first ${st.keys.length})` : ""}</h3><div class="scroll"><table><thead><tr><th>Key</th><th>Value</th></tr></thead><tbody class="keys">${keys || '<tr><td colspan="2" class="muted">None.</td></tr>'}</tbody></table></div></section>`;
        }

        async function instancePage(id, token, first) {
          const detail = await api(`/api/instances/${encodeURIComponent(id)}`);
          if (token !== renderToken) return;
          const i = detail.instance, l = detail.live;
          where.textContent = `${i.class_name} · ${i.object_name ?? i.object_id}`;
          const events = detail.events.map((e) => `<li>${when(e.at)} — ${badge(e.kind)} ${esc(e.detail ?? "")}</li>`).join("");
          const info = `<h1>Instance <code>${esc(i.instance_id.slice(0, 12))}</code> ${badge(l ? l.state : i.state)}</h1>
            <div class="cards"><div class="card"><dl class="kv"><dt>Object</dt><dd>${esc(i.object_name ?? i.object_id)}</dd>
              <dt>Class</dt><dd><a href="#/containers/${encodeURIComponent(i.class_name)}">${esc(i.class_name)}</a></dd>
              <dt>Version</dt><dd>${esc(i.deployment_id)}</dd><dt>Created</dt><dd>${when(i.created_at)}</dd>
              <dt>Cold start</dt><dd>${i.cold_start_ms == null ? "-" : i.cold_start_ms + " ms"}</dd><dt>Container</dt><dd>${esc((i.container_id ?? "-").slice(0, 12))}</dd>
              ${i.exit_code == null ? "" : `<dt>Exit code</dt><dd>${i.exit_code}</dd>`}</dl></div>
            <div class="card"><h3>History</h3><ul class="timeline">${events}</ul></div></div>${storageCard(detail.storage)}`;
          if (first) {
            main.innerHTML = `<div id="info">${info}</div><h2>Logs <span class="muted">(live)</span></h2><div class="logs" id="logs"></div>`;
            const box = document.getElementById("logs");
            logSource = new EventSource(`/api/logs/events?instance=${encodeURIComponent(i.instance_id)}&since=1h`);
            logSource.onmessage = (m) => { const line = JSON.parse(m.data); const div = document.createElement("div");
              if (line.type === "log") { div.className = line.stream; div.textContent = line.line; }
              else { div.className = "meta"; div.textContent = line.type === "attach" ? "── following the instance's output" : "── output ended"; }
              const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4; box.appendChild(div); if (atEnd) box.scrollTop = box.scrollHeight; };
          } else {
            document.getElementById("info").innerHTML = info;
          }
        }

        // The engine's state (GET /api/server `engine`): a banner while it does not answer.
        function showEngine(server) {
          const e = server.engine;
          engineBanner.hidden = !e || e.up;
          if (e && !e.up) engineBanner.textContent = `The container engine is not answering since ${when(e.since)} (${ago(e.since)}): ${e.error ?? "no answer"}. Running containers keep serving; new ones cannot start until it is back.`;
        }

        async function render(first) {
          api("/api/server").then(showEngine, () => {});
          const token = first ? ++renderToken : renderToken;
          const path = location.hash.replace(/^#/, "") || "/";
          try {
            let m;
            if ((m = path.match(/^\/containers\/(.+)$/))) await classPage(decodeURIComponent(m[1]), token);
            else if ((m = path.match(/^\/instances\/(.+)$/))) await instancePage(decodeURIComponent(m[1]), token, first);
            else await overview(token);
            live.classList.remove("stale");
          } catch (error) {
            live.classList.add("stale");
            if (first) main.innerHTML = `<p class="error">${esc(error.message)}</p>`;
          }
        }

        function navigate() {
          if (logSource) { logSource.close(); logSource = null; }
          clearInterval(timer);
          render(true);
          timer = setInterval(() => render(false), 2000);
        }
        window.addEventListener("hashchange", navigate);
        navigate();
        """#
}
