// Stand-in written for Stepwell's tests (the published function is not copied): the
// query results are processed into nothing.
exports.lambdaHandler = async (event) => ({ processed: 0 });
