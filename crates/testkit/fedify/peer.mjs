// A remote fediverse server for Folio's tests: one account, alice, on Fedify.
// Usage: node peer.mjs PORT. Besides ActivityPub it answers a small control API on loopback:
//   POST /control/follow  {"actor": URL}                        alice follows that actor
//   POST /control/unfollow {"actor": URL}                       alice undoes her follow
//   POST /control/reply   {"actor": URL, "inReplyTo": URL, "content": HTML}  alice replies
//   POST /control/update  {"actor": URL, "note": URL, "inReplyTo": URL, "content": HTML}
//   POST /control/delete  {"actor": URL, "note": URL}            alice deletes her note
//   POST /control/like    {"actor": URL, "object": URL}          alice likes a post
//   GET  /control/received                                      activities alice's inboxes got
import {
  Accept, Create, Delete, Endpoints, Follow, Image, Like, Note, Person, Tombstone, Undo, Update,
  createFederation, generateCryptoKeyPair, MemoryKvStore,
} from "@fedify/fedify";
import { serve } from "@hono/node-server";

const port = Number(process.argv[2]);
const origin = `http://127.0.0.1:${port}`;
const keys = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const received = [];
const follows = new Map();

// Exit with the test process that started us.
const parent = process.ppid;
setInterval(() => {
  try { process.kill(parent, 0); } catch { process.exit(0); }
}, 500).unref();

const federation = createFederation({
  kv: new MemoryKvStore(),
  allowPrivateAddress: true,
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "alice") return null;
    const pairs = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Alice Peer",
      url: new URL(`/@${identifier}`, ctx.url),
      icon: new Image({ url: new URL("/avatar.png", ctx.url) }),
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: pairs[0].cryptographicKey,
      assertionMethods: pairs.map((pair) => pair.multikey),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) =>
    identifier === "alice" ? [keys] : []
  );

async function remember(ctx, activity) {
  const json = await activity.toJsonLd({ format: "compact" });
  received.push(json);
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Accept, remember)
  .on(Create, remember)
  .on(Update, remember)
  .on(Delete, remember)
  .onError((_ctx, error) => console.error("inbox error", error));

async function body(request) {
  return JSON.parse(await request.text());
}

async function control(request, url) {
  const ctx = federation.createContext(new URL(origin), undefined);
  if (request.method === "GET" && url.pathname === "/control/received") {
    return Response.json(received);
  }
  const input = await body(request);
  const target = await ctx.lookupObject(input.actor);
  if (target == null) return new Response("cannot look up " + input.actor, { status: 502 });
  if (url.pathname === "/control/follow") {
    const follow = new Follow({
      id: new URL(`/follows/${crypto.randomUUID()}`, origin),
      actor: ctx.getActorUri("alice"),
      object: target.id,
    });
    follows.set(target.id.href, follow);
    await ctx.sendActivity({ identifier: "alice" }, target, follow);
    return Response.json({ sent: follow.id.href });
  }
  if (url.pathname === "/control/unfollow") {
    const follow = follows.get(target.id.href);
    const undo = new Undo({
      id: new URL(`/undos/${crypto.randomUUID()}`, origin),
      actor: ctx.getActorUri("alice"),
      object: follow,
    });
    await ctx.sendActivity({ identifier: "alice" }, target, undo);
    return Response.json({ sent: undo.id.href });
  }
  if (url.pathname === "/control/reply") {
    const id = crypto.randomUUID();
    const note = new Note({
      id: new URL(`/notes/${id}`, origin),
      attribution: ctx.getActorUri("alice"),
      content: input.content,
      replyTarget: new URL(input.inReplyTo),
      to: new URL("https://www.w3.org/ns/activitystreams#Public"),
      cc: target.id,
    });
    const create = new Create({
      id: new URL(`/notes/${id}/create`, origin),
      actor: ctx.getActorUri("alice"),
      object: note,
      to: new URL("https://www.w3.org/ns/activitystreams#Public"),
      cc: target.id,
    });
    await ctx.sendActivity({ identifier: "alice" }, target, create);
    return Response.json({ sent: create.id.href, note: note.id.href });
  }
  const publicAddress = new URL("https://www.w3.org/ns/activitystreams#Public");
  if (url.pathname === "/control/update") {
    const note = new Note({
      id: new URL(input.note),
      attribution: ctx.getActorUri("alice"),
      content: input.content,
      replyTarget: new URL(input.inReplyTo),
      to: publicAddress,
      cc: target.id,
    });
    const update = new Update({
      id: new URL(`/updates/${crypto.randomUUID()}`, origin),
      actor: ctx.getActorUri("alice"),
      object: note,
      to: publicAddress,
      cc: target.id,
    });
    await ctx.sendActivity({ identifier: "alice" }, target, update);
    return Response.json({ sent: update.id.href });
  }
  if (url.pathname === "/control/delete") {
    const del = new Delete({
      id: new URL(`/deletes/${crypto.randomUUID()}`, origin),
      actor: ctx.getActorUri("alice"),
      object: new Tombstone({ id: new URL(input.note) }),
      to: publicAddress,
      cc: target.id,
    });
    await ctx.sendActivity({ identifier: "alice" }, target, del);
    return Response.json({ sent: del.id.href });
  }
  if (url.pathname === "/control/like") {
    const like = new Like({
      id: new URL(`/likes/${crypto.randomUUID()}`, origin),
      actor: ctx.getActorUri("alice"),
      object: new URL(input.object),
    });
    await ctx.sendActivity({ identifier: "alice" }, target, like);
    return Response.json({ sent: like.id.href });
  }
  return new Response("unknown control", { status: 404 });
}

serve({
  port,
  hostname: "127.0.0.1",
  fetch: async (request) => {
    const url = new URL(request.url);
    try {
      if (url.pathname.startsWith("/control/")) return await control(request, url);
      return await federation.fetch(request, {
        contextData: undefined,
        onNotFound: () => new Response("not found", { status: 404 }),
        onNotAcceptable: () => new Response("not acceptable", { status: 406 }),
      });
    } catch (error) {
      console.error(error);
      return new Response(String(error?.stack ?? error), { status: 500 });
    }
  },
});
console.log(`fedify peer listening on ${origin}`);
