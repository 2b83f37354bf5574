// Opens a folder written by `gantry export --format web` in headless Chromium, served on
// 127.0.0.1 by this script (nothing else is reachable), and saves what the page reports: its
// first grid's output values and pixels, and the pixels after it pressed "New latents", the
// class picker and the truncation slider (index.html's test mode, ?report=).
//   node tests/web_check.js DIR OUT.json [--latents NAME.json] [--screenshot FILE.png]
// NAME.json is a file inside DIR. With --screenshot, Chromium also renders the page (seed 1) to
// FILE.png: a screenshot of the page once it has reported, taken through the DevTools protocol.
// Exit 0 when the page reported, 1 on a failure or after 180 s, 3 without chromium.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const {spawn} = require('child_process');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TYPES = {'.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
               '.wasm': 'application/wasm', '.json': 'application/json',
               '.onnx': 'application/octet-stream'};

function fail(message, code) {
  console.error(message);
  process.exit(code || 1);
}

const args = process.argv.slice(2);
if (args.length < 2) fail('usage: web_check.js DIR OUT.json [--latents NAME.json] [--screenshot FILE.png]', 2);
const [dir, out] = args;
const option = name => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : null; };
if (!fs.existsSync(CHROMIUM)) fail('chromium not installed (apt-get install chromium)', 3);

// The folder's files; POST /report takes the page's result.
function serve(onReport) {
  return http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'POST' && url.pathname === '/report') {
      let body = '';
      req.on('data', chunk => { body += chunk; });
      req.on('end', () => { res.end('ok'); onReport(body); });
      return;
    }
    const file = path.join(dir, path.normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, ''));
    fs.readFile(file.endsWith('/') ? file + 'index.html' : file, (err, data) => {
      if (err) { res.writeHead(404); res.end('not found'); return; }
      res.writeHead(200, {'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream'});
      res.end(data);
    });
  });
}

function chromiumArgs(profile) {
  return ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync',
          '--disable-background-networking', '--disable-component-update', '--disable-quic',
          '--window-size=1000,1000', '--hide-scrollbars', '--user-data-dir=' + profile];
}

// ---- a minimal DevTools protocol client (RFC 6455 text frames) for the screenshot ----

function getJson(url) {
  return new Promise((resolve, reject) => {
    http.get(url, res => {
      let body = '';
      res.on('data', c => { body += c; });
      res.on('end', () => { try { resolve(JSON.parse(body)); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
}

function connect(wsUrl) {
  return new Promise((resolve, reject) => {
    const u = new URL(wsUrl);
    const req = http.request({host: u.hostname, port: u.port, path: u.pathname, headers: {
      Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64')}});
    req.on('upgrade', (res, socket) => resolve(socket));
    req.on('error', reject);
    req.end();
  });
}

// One masked text frame from the client.
function frame(text) {
  const payload = Buffer.from(text), n = payload.length, mask = crypto.randomBytes(4);
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n])
             : n < 65536 ? Buffer.from([0x81, 0x80 | 126, n >> 8, n & 255])
             : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), (b => { b.writeBigUInt64BE(BigInt(n)); return b; })(Buffer.alloc(8))]);
  for (let i = 0; i < n; i++) payload[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, payload]);
}

// Sends one command and resolves with its result (messages are unmasked server frames).
function command(socket, method, params) {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0), message = [];
    socket.on('data', chunk => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (buffer.length < 2) return;
        let len = buffer[1] & 127, at = 2;
        if (len === 126) { if (buffer.length < 4) return; len = buffer.readUInt16BE(2); at = 4; }
        else if (len === 127) { if (buffer.length < 10) return; len = Number(buffer.readBigUInt64BE(2)); at = 10; }
        if (buffer.length < at + len) return;
        message.push(buffer.subarray(at, at + len));
        const fin = buffer[0] & 0x80;
        buffer = buffer.subarray(at + len);
        if (!fin) continue;
        const reply = JSON.parse(Buffer.concat(message).toString());
        message = [];
        if (reply.id === 1) return reply.error ? reject(new Error(JSON.stringify(reply.error))) : resolve(reply.result);
      }
    });
    socket.write(frame(JSON.stringify({id: 1, method, params})));
  });
}

// The page's PNG screenshot through the browser's DevTools port (in the profile's file).
async function screenshot(profile, file) {
  const port = fs.readFileSync(path.join(profile, 'DevToolsActivePort'), 'utf8').split('\n')[0];
  const pages = (await getJson('http://127.0.0.1:' + port + '/json/list')).filter(t => t.type === 'page');
  const socket = await connect(pages[0].webSocketDebuggerUrl);
  const shot = await command(socket, 'Page.captureScreenshot', {format: 'png'});
  socket.destroy();
  fs.writeFileSync(file, Buffer.from(shot.data, 'base64'));
}

function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-chromium-'));
  let browser = null;
  // Chromium's helper processes share its process group (spawned detached): all of it goes,
  // then its profile (a helper still writing leaves a folder behind, never a failure).
  const finish = code => {
    const cleanUp = () => {
      try { fs.rmSync(profile, {recursive: true, force: true, maxRetries: 10, retryDelay: 100}); }
      catch (e) { console.error('left ' + profile + ': ' + e.code); }
      process.exit(code);
    };
    if (!browser) return cleanUp();
    browser.removeAllListeners('exit');
    browser.on('exit', cleanUp);
    try { process.kill(-browser.pid, 'SIGKILL'); } catch (e) { browser.kill('SIGKILL'); }
  };
  const server = serve(async body => {
    fs.writeFileSync(out, body);
    const result = JSON.parse(body);
    if (!result.ok) { console.error('the page failed: ' + result.error); finish(1); }
    const shot = option('--screenshot');
    if (shot) {
      try { await screenshot(profile, shot); }
      catch (e) { console.error('no screenshot: ' + e); finish(1); }
    }
    finish(0);
  });
  server.listen(0, '127.0.0.1', () => {
    const port = server.address().port;
    const query = new URLSearchParams({report: '/report'});
    if (option('--latents')) query.set('latents', option('--latents'));
    const url = 'http://127.0.0.1:' + port + '/index.html?' + query;
    browser = spawn(CHROMIUM, chromiumArgs(profile).concat(['--remote-debugging-port=0', url]),
                    {stdio: 'ignore', detached: true});
    browser.on('exit', code => { browser = null; console.error('chromium exited (' + code + ') before the page reported'); finish(1); });
  });
  setTimeout(() => { console.error('no report from the page after 180 s'); finish(1); }, 180000);
}

main();
