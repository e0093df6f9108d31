// Stand-in written for Stepwell's tests (the published function is not copied): it
// answers as an HTTP API would, with a status code and a body.
exports.lambdaHandler = async (event) => ({ statusCode: 200, body: JSON.stringify(event) });
