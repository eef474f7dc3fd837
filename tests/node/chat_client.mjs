// Drives the example chat with Node's `ws` client; prints what each client received as JSON.
// Usage: node chat_client.mjs ws://127.0.0.1:PORT/ws/chat
import WebSocket from "ws";

const url = process.argv[2];
const deadline = setTimeout(() => {
  console.error("timed out");
  process.exit(2);
}, 10000);

function open(name) {
  const socket = new WebSocket(url);
  const inbox = [];
  const waiters = [];
  socket.on("message", (data, isBinary) => {
    const message = isBinary ? { binary: data.length } : JSON.parse(data.toString());
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else inbox.push(message);
  });
  const next = () =>
    inbox.length ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiters.push(resolve));
  return new Promise((resolve, reject) => {
    socket.on("open", () => resolve({ name, socket, next }));
    socket.on("error", reject);
  });
}

const send = (client, message) => client.socket.send(JSON.stringify(message));

const ann = await open("ann");
const bob = await open("bob");
const result = { annWelcome: await ann.next(), bobWelcome: await bob.next() };
send(ann, { type: "join", room: "lobby" });
result.annJoined = await ann.next();
send(bob, { type: "join", room: "lobby" });
result.bobJoined = await bob.next();
result.annPresence = await ann.next();
send(ann, { type: "chat", room: "lobby", text: "hi from node" });
result.bobChat = await bob.next();
const closed = new Promise((resolve) => bob.socket.on("close", (code) => resolve(code)));
bob.socket.close(1000, "bye");
result.bobCloseCode = await closed;
result.annPresenceLeft = await ann.next();
ann.socket.close();
clearTimeout(deadline);
console.log(JSON.stringify(result));
