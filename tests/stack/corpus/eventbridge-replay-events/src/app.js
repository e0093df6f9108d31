// Stand-in written for Stepwell's tests (the published function is not copied): no
// events to replay.
exports.handler = async (event) => ({ events: [] });
