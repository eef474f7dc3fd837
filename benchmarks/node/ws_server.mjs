// Node's `ws` server doing the benchmark's work: /echo and /room (see servers/__init__.py).
import http from "node:http";
import { WebSocketServer } from "ws";

const port = Number(process.argv[2] || 0);
const room = new Set();
const server = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on("upgrade", (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    const path = req.url.split("?")[0];
    if (path === "/echo") {
      ws.on("message", (data) => ws.send(JSON.stringify(JSON.parse(data.toString()))));
    } else if (path === "/room") {
      room.add(ws);
      ws.on("message", (data) => {
        const text = JSON.stringify(JSON.parse(data.toString()));
        for (const member of room) {
          if (member !== ws && member.readyState === 1) member.send(text);
        }
      });
      ws.on("close", () => room.delete(ws));
    } else {
      ws.close(1008);
    }
  });
});

server.listen(port, "127.0.0.1", 1024, () => console.log(`READY ${server.address().port}`));
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
