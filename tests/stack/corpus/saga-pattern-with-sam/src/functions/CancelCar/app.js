// Stand-in written for Stepwell's tests (the published function is not copied): the
// booking step succeeds with an HTTP-like status, as the sample's functions answer.
exports.lambdaHandler = async (event) => ({ statusCode: 200, body: JSON.stringify(event) });
