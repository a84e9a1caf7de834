// Development stand-in for parleyd's own serving of the web client: serves the files of web/
// at /<name> (index.html at /) and forwards /ws (WebSocket upgrade), /v1/* and /healthz to a
// running parleyd, so the page is same-origin exactly as in production.
//
// With fakeFiles, POST /v1/files and GET /v1/files/ID are answered here from memory, following
// docs/PROTOCOL.md "Files" (bearer token required, {file,url,size,type,name} reply), for
// working on the page before parleyd implements files. The token is not verified.
//
//   node dev_server.mjs --upstream 127.0.0.1:8080 [--port 8000] [--fake-files] [--web DIR]
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

function sendJson(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(Object.assign(new Error('too large'), { tooLarge: true }));
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

// Starts the server. upstream: 'HOST:PORT' of parleyd's HTTP port. Resolves to {url, close()}.
export async function startDevServer({ webDir, upstream, fakeFiles = false, port = 0, host = '127.0.0.1' }) {
  const [upHost, upPortText] = upstream.split(/:(?=\d+$)/);
  const upPort = Number(upPortText);
  const stored = new Map();  // fake files: id -> {type, name, bytes}
  const sockets = new Set();

  async function fakeFilesRoute(req, res, url) {
    if (!/^Bearer \S+/.test(req.headers.authorization || '')) {
      return sendJson(res, 401, { error: 'unauthorized', message: 'missing token' });
    }
    if (req.method === 'POST' && url.pathname === '/v1/files') {
      let bytes;
      try {
        bytes = await readBody(req, 10 * 1024 * 1024);
      } catch (err) {
        return sendJson(res, err.tooLarge ? 413 : 400, { error: err.tooLarge ? 'too_large' : 'bad_request', message: err.message });
      }
      const id = randomBytes(16).toString('base64url');
      const type = req.headers['content-type'] || 'application/octet-stream';
      const name = url.searchParams.get('name') || '';
      stored.set(id, { type, name, bytes });
      return sendJson(res, 201, { file: id, url: `/v1/files/${id}`, size: bytes.length, type, name });
    }
    const match = /^\/v1\/files\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && match) {
      const file = stored.get(decodeURIComponent(match[1]));
      if (!file) return sendJson(res, 404, { error: 'not_found', message: 'no such file' });
      res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.bytes.length });
      return res.end(file.bytes);
    }
    return sendJson(res, 405, { error: 'bad_request', message: 'method not allowed' });
  }

  function forward(req, res) {
    const upstreamReq = http.request({
      host: upHost, port: upPort, method: req.method, path: req.url, headers: req.headers,
    }, (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode, upstreamRes.headers);
      upstreamRes.pipe(res);
    });
    upstreamReq.on('error', (err) => sendJson(res, 502, { error: 'unavailable', message: err.message }));
    req.pipe(upstreamReq);
  }

  async function serveStatic(res, pathname) {
    const name = pathname === '/' ? 'index.html' : pathname.slice(1);
    const type = TYPES[path.extname(name)];
    if (!type || name.includes('/') || name.includes('\\') || name.startsWith('.')) {
      return sendJson(res, 404, { error: 'not_found', message: 'no such page' });
    }
    try {
      const body = await readFile(path.join(webDir, name));
      res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    } catch {
      sendJson(res, 404, { error: 'not_found', message: 'no such page' });
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://dev');
    if (fakeFiles && url.pathname.startsWith('/v1/files')) {
      fakeFilesRoute(req, res, url);
    } else if (url.pathname.startsWith('/v1/') || url.pathname === '/healthz' || url.pathname === '/metrics') {
      forward(req, res);
    } else if (req.method === 'GET' || req.method === 'HEAD') {
      serveStatic(res, url.pathname);
    } else {
      sendJson(res, 405, { error: 'bad_request', message: 'method not allowed' });
    }
  });

  // WebSocket: replay the upgrade request to parleyd and splice the two sockets together.
  server.on('upgrade', (req, socket, head) => {
    const up = net.connect(upPort, upHost, () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(`${raw}\r\n`);
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    const drop = () => {
      socket.destroy();
      up.destroy();
    };
    up.on('error', drop);
    socket.on('error', drop);
    up.on('close', drop);
    socket.on('close', drop);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    url: `http://${host}:${address.port}/`,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const value = (flag, fallback) => {
    const i = args.indexOf(flag);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
  };
  const upstream = value('--upstream', null);
  if (!upstream) {
    console.error('usage: node dev_server.mjs --upstream HOST:PORT [--port N] [--fake-files] [--web DIR]');
    process.exit(2);
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dev = await startDevServer({
    webDir: path.resolve(value('--web', path.join(here, '..', '..', 'web'))),
    upstream,
    fakeFiles: args.includes('--fake-files'),
    port: Number(value('--port', '8000')),
  });
  console.log(`serving the web client at ${dev.url} (parleyd at ${upstream})`);
}
