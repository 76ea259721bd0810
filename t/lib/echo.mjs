#!/usr/bin/env node
// The sample upstream: answers every request with 200 and a JSON body
//   {method, url, httpVersion, headers: [[name, value], ...], body}
// where `headers` is the raw header list as received (names keep their
// case and underscores, duplicates stay separate entries).
//
// Standalone: ECHO_PORT (default 9001) on 127.0.0.1, prints "echo ready <url>".
// As a module: createEchoServer() returns an http.Server that also records
// the parsed requests in server.requests.

import http from 'node:http';
import { pathToFileURL } from 'node:url';

export function createEchoServer() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const headers = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      }
      const seen = {
        method: req.method,
        url: req.url,
        httpVersion: req.httpVersion,
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      server.requests.push(seen);
      // one header per line: readable with curl, still plain JSON
      const out = `{"method": ${JSON.stringify(seen.method)}, "url": ${JSON.stringify(seen.url)}, `
        + `"httpVersion": ${JSON.stringify(seen.httpVersion)},\n "headers": [\n`
        + headers.map((h) => `  ${JSON.stringify(h)}`).join(',\n')
        + `\n ],\n "body": ${JSON.stringify(seen.body)}}\n`;
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(out),
      });
      res.end(out);
    });
  });
  server.requests = [];
  return server;
}

/* values of header `name` (case-insensitive) in a raw [[name, value]] list */
export function headerValues(rawHeaders, name) {
  const n = name.toLowerCase();
  return rawHeaders.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.ECHO_PORT || 9001);
  const server = createEchoServer();
  server.requests = { push() {} };            // don't accumulate when long-running
  server.listen(port, '127.0.0.1', () => console.log(`echo ready http://127.0.0.1:${port}`));
  const stop = () => { server.close(() => process.exit(0)); server.closeAllConnections(); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
