// The public API: the vocabulary users declare, and the entry points that run it.
export { asset, templateSql } from './define/asset.ts';
export type { Asset, AssetOptions, AssetSql, Dataset, RefOptions, RetryPolicy, SqlContext } from './define/asset.ts';
export { fileSource } from './define/source.ts';
export type { BadRecordPolicy, FileFormat, FileSource, FileSourceOptions } from './define/source.ts';
export { extractAsset, httpSource, postgresSource } from './define/extract.ts';
export type {
  ExtractAsset, ExtractAssetOptions, ExtractSource, HttpAuth, HttpPagination, HttpPaginationOptions, HttpRetry, HttpSource, HttpSourceOptions,
  Lookback, PostgresSource, PostgresSourceOptions,
} from './define/extract.ts';
export { dailyPartitions, hourlyPartitions, multiPartitions, staticPartitions } from './define/partitions.ts';
export type { DailyPartitions, HourlyPartitions, MultiPartitions, Partitions, StaticPartitions } from './define/partitions.ts';
export { defineProject } from './define/project.ts';
export { assetUpdated, freshnessLapse, job, newFiles, sensor } from './define/job.ts';
export type { CatchUpPolicy, Job, JobOptions, Schedule, ScheduleOptions, Sensor, SensorOptions, SensorTrigger } from './define/job.ts';
export { entity, featureService, featureView, onDemandFeature, select } from './define/features.ts';
export type {
  Aggregation, AggregationFunction, ColumnFeatureView, Entity, FeatureRow, FeatureService, FeatureView, KeyType,
  OnDemandFeature, ValueType, WindowedFeatureView,
} from './define/features.ts';
export type { Duration } from './define/duration.ts';
export { eventStream } from './define/stream.ts';
export type { EventFieldType, EventStream, EventStreamOptions } from './define/stream.ts';
export { parseSuite, suite } from './define/expect.ts';
export type { ExpectationConfig, Severity, Suite } from './define/checks.ts';
export type { ValidationResult, ExpectationResult } from './quality/types.ts';
import { expect as gxExpect } from './define/expect.ts';
import { statisticalExpect } from './define/expect-statistical.ts';
/** Expectation builders: every GX type sluice implements, plus drift and anomaly checks. */
export const expect = Object.freeze({ ...gxExpect, ...statisticalExpect });
export type { Project, ProjectInput, ProjectSettings } from './define/project.ts';
export { SluiceError } from './errors.ts';
export type { ErrorCode, ErrorContext } from './errors.ts';
export { loadProject } from './load-project.ts';
export { openWorkspace } from './workspace.ts';
export type { Workspace } from './workspace.ts';
export { runAssets as run } from './batch/runner.ts';
export type { RunEvent, RunRequest, RunSummary } from './batch/runner.ts';
export { listVersions, queryTable, showTable } from './batch/inspect.ts';
export { runSuite as validate } from './quality/run-suite.ts';
export { materialize } from './features/materialize.ts';
export type { MaterializeOptions, ViewMaterialization } from './features/materialize.ts';
export { measureSkew } from './features/skew.ts';
export type { FeatureSkew, SkewOptions, SkewReport } from './features/skew.ts';
export { getHistoricalFeatures } from './features/historical.ts';
export type { HistoricalFeaturesOptions, TrainingSet } from './features/historical.ts';
export type { TrainingSetRecord } from './store/catalog/catalog.ts';
export { createFeatureClient, readOnlineFeatures } from './features/online-read.ts';
export type { FeatureClient, FeatureStatus, FeatureValue, OnlineFeaturesRequest, OnlineFeaturesResponse } from './features/online-read.ts';
export { openOnlineStore } from './store/online/open-online-store.ts';
export type { OnlineRecord, OnlineStore, StoredValues } from './store/online/online-store.ts';
export { buildServer, startServer } from './server/server.ts';
export type { RunningServer, ServerOptions } from './server/server.ts';
