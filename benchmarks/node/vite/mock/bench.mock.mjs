// WebSocket mocks for vite-plugin-mock-dev-server: /echo and /room (see servers/__init__.py).
import { defineMock } from "vite-plugin-mock-dev-server";

export default [
  defineMock({
    url: "/echo",
    ws: true,
    setup(wss) {
      wss.on("connection", (ws) => {
        ws.on("message", (data) => ws.send(JSON.stringify(JSON.parse(data.toString()))));
      });
    },
  }),
  defineMock({
    url: "/room",
    ws: true,
    setup(wss) {
      wss.on("connection", (ws) => {
        ws.on("message", (data) => {
          const text = JSON.stringify(JSON.parse(data.toString()));
          for (const member of wss.clients) {
            if (member !== ws && member.readyState === 1) member.send(text);
          }
        });
      });
    },
  }),
];
