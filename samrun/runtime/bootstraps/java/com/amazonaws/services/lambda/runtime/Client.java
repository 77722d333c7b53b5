package com.amazonaws.services.lambda.runtime;

/** The mobile client application, as aws-lambda-java-core declares it. */
public interface Client {
    String getInstallationId();

    String getAppTitle();

    String getAppVersionName();

    String getAppVersionCode();

    String getAppPackageName();
}
