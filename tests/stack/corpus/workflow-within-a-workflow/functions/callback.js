// Stand-in written for Stepwell's tests (the published function is not copied): it sends
// the task token of its input back with SendTaskSuccess, as the sample describes.
const { SFNClient, SendTaskSuccessCommand } = require("@aws-sdk/client-sfn");

exports.lambda_handler = async (event) => {
  const output = JSON.stringify({ Message: event.Message });
  await new SFNClient({}).send(new SendTaskSuccessCommand({ taskToken: event.TaskToken, output }));
};
