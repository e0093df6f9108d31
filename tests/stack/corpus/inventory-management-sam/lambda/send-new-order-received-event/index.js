// Stand-in written for Stepwell's tests (the published function is not copied).
exports.handler = async (event) => ({ statusCode: 200, body: JSON.stringify(event) });
