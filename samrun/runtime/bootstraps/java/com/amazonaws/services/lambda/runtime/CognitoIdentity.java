package com.amazonaws.services.lambda.runtime;

/** The Amazon Cognito identity, as aws-lambda-java-core declares it. */
public interface CognitoIdentity {
    String getIdentityId();

    String getIdentityPoolId();
}
