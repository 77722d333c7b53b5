package com.amazonaws.services.lambda.runtime;

import java.util.Map;

/** The mobile client's context, as aws-lambda-java-core declares it. */
public interface ClientContext {
    Client getClient();

    Map<String, String> getCustom();

    Map<String, String> getEnvironment();
}
