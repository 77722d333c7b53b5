package com.amazonaws.services.lambda.runtime;

/** A handler of typed events, as aws-lambda-java-core declares it. */
public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
