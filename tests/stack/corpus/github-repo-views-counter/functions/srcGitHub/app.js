// Stand-in written for Stepwell's tests (the published function is not copied): it
// answers a view count for the repository it is given, as the state machine expects.
exports.handler = async (event) => ({
  repoName: event.repoName,
  timestamp: new Date().toISOString(),
  count: 42,
});
