// Drives the example's Socket.IO chat with the real socket.io-client.
// Usage: node sio_client.mjs http://127.0.0.1:PORT TRANSPORT  (polling | websocket)
// Prints one JSON object with what each client saw.
import { io } from "socket.io-client";

const [url, transport] = process.argv.slice(2);
const options = { transports: [transport], reconnection: false, timeout: 5000 };
const result = {};

function connect(auth) {
  const socket = io(url, { ...options, auth });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => reject({ socket, error }));
  });
}

function next(socket, event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}

const timer = setTimeout(() => {
  console.error("timed out; got so far: " + JSON.stringify(result));
  process.exit(2);
}, 15000);

const ann = await connect({ name: "ann" });
const bob = await connect({ name: "bob" });
result.annTransport = ann.io.engine.transport.name;
result.annJoin = await ann.emitWithAck("join", "lobby");
const presence = next(ann, "presence");
result.bobJoin = await bob.emitWithAck("join", "lobby");
result.annPresence = await presence;
const annChat = next(ann, "chat message");
const bobChat = next(bob, "chat message");
result.bobAck = await bob.emitWithAck("chat message", { room: "lobby", text: "hi from node" });
result.annChat = await annChat;
result.bobChat = await bobChat;
const left = next(ann, "presence");
bob.disconnect();
result.annPresenceLeft = await left;
ann.disconnect();
try {
  await connect({});
  result.refused = null;
} catch ({ socket, error }) {
  result.refused = { message: error.message, data: error.data };
  socket.close();
}
clearTimeout(timer);
console.log(JSON.stringify(result));
// A closed polling socket may leave a request timer behind: do not wait for it.
process.exit(0);
