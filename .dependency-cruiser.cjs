// Which part of src/ may import which (docs/architecture.md). Imports flow one way:
//
//   index → app → call → ari, media → agent, rtp, audio
//           ↘      ↘ store, events, metrics, policy, webhooks → store
//            api → model (the CallApi contract, campaign and webhook views), events, metrics, policy
//   app → campaign → store, events, webhooks (it dials through the call service's interface)
//   model, errors, lifecycle: leaves everyone may use
//   app → cluster → api, store, events, model, errors (a node of a cluster: docs/cluster.md)
//
// `npm run lint` runs this; a new arrow is a design decision, made here on purpose.

/** What each folder of src/ may import besides itself. */
const allowed = {
  model: [],
  lifecycle: [],
  policy: ['errors', 'model'],
  audio: ['errors'],
  rtp: ['errors', 'lifecycle'],
  agent: ['audio', 'errors', 'lifecycle'],
  ari: ['errors', 'lifecycle'],
  media: ['agent', 'rtp', 'audio', 'errors', 'lifecycle', 'model'],
  store: ['model', 'errors'],
  events: ['model'],
  metrics: ['model', 'events'],
  webhooks: ['store', 'model', 'errors', 'lifecycle'],
  campaign: ['store', 'model', 'events', 'webhooks', 'errors', 'lifecycle'],
  call: ['ari', 'media', 'agent', 'store', 'events', 'metrics', 'policy', 'model', 'errors', 'lifecycle', 'webhooks'],
  api: ['model', 'events', 'metrics', 'policy', 'errors', 'lifecycle'],
  deploy: [],
  // Wraps the API's use-cases and adds internal routes; reads the config types only.
  cluster: ['api', 'store', 'events', 'model', 'errors', 'lifecycle'],
};

/** Top-level modules of src/ that are leaves too. */
const leafFiles = ['errors', 'logger'];

const folderRules = Object.entries(allowed).map(([folder, deps]) => {
  const ok = [folder, ...deps].filter((d) => !leafFiles.includes(d));
  return {
    name: `${folder}-imports`,
    comment: `src/${folder} may import only ${[...ok, ...leafFiles].join(', ')}`,
    severity: 'error',
    from: { path: `^src/${folder}/` },
    to: {
      path: '^src/',
      pathNot: [...ok.map((d) => `^src/${d}/`), ...leafFiles.map((f) => `^src/${f}\\.ts$`)],
    },
  };
});

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A module cycle means two modules are one concept or the arrow points the wrong way.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'composition-root-only',
      comment: 'Only the composition root (src/index.ts, src/app.ts) reads the config and wires the app.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(index|app|config)\\.ts$' },
      to: { path: '^src/(index|app|config)\\.ts$' },
    },
    ...folderRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^src/api/dashboard/' },
  },
};
